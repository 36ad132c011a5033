"""Requests per second the HTTP API serves: real uvicorn workers, a bounded burst of mixed calls.

The parent binds one listening socket on loopback and forks ``workers`` server processes that
all accept on it, as ``c360 serve --workers N`` does (uvicorn hands its workers the socket the
same way); each worker builds the app from ``open_graph`` and so opens its own graph client
after the fork. The client here keeps one ``http.client`` keep-alive connection per thread:
it shares the machine with the server and the engine, so it must cost little CPU itself
(httpx cost about four times more per request). The burst has a fixed number of requests.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import secrets
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from graph.backend import GraphBackend

__all__ = ["default_workers", "measure_api"]


def default_workers(concurrency: int = 8) -> int:
    """Server processes for the benchmark: one per CPU this process may use, at most ``concurrency``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, concurrency))


def _listen() -> socket.socket:
    """A listening loopback socket made as uvicorn's multi-worker mode makes it (no TCP proto given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve(open_graph: Callable[[], GraphBackend], token: str, sock: socket.socket) -> None:
    """One server process: the API on the shared socket, its graph opened on the first request."""
    import uvicorn

    from api.app import HTTP_PROTOCOL, create_app

    config = uvicorn.Config(
        create_app(open_graph, token=token), http=HTTP_PROTOCOL, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class _Conn:
    """One keep-alive connection; a broken one is reopened for the next request."""

    def __init__(self, port: int, headers: dict[str, str], timeout_s: float) -> None:
        self._port, self._headers, self._timeout = port, headers, timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> int:
        """The status of ``GET path`` (0 when the connection failed); the body is read and dropped.

        A reused connection that the server had closed meanwhile (its keep-alive timeout) is
        reopened once, as HTTP clients do for idempotent requests.
        """
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self._timeout)
                self._conn.request("GET", path, headers=self._headers)
                response = self._conn.getresponse()
                response.read()
                if response.will_close:
                    self.close()
                return response.status
            except TimeoutError:  # the server is slow, not gone: no second try
                self.close()
                return 0
            except (OSError, http.client.HTTPException):
                self.close()
                if not reused or attempt == 2:
                    return 0
        return 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _wait_ready(port: int, procs: list, deadline: float) -> None:
    probe = _Conn(port, {}, 1.0)
    try:
        while probe.get("/health") != 200:
            if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
                raise RuntimeError("the API server did not start")
            time.sleep(0.1)
    finally:
        probe.close()


def measure_api(
    open_graph: Callable[[], GraphBackend],
    customer_ids: Sequence[str],
    *,
    requests: int = 600,
    concurrency: int = 8,
    timeout_s: float = 120.0,
    workers: int | None = None,
) -> dict:
    """Serve the API for ``open_graph`` with ``workers`` processes (default :func:`default_workers`)
    and time ``requests`` alternating view / recommendation calls from ``concurrency`` threads.

    Returns ``requests``, ``seconds``, ``rps``, ``errors`` (non-200 answers; ``error_statuses``
    counts them by status, 0 for a failed connection), ``p50_ms``,
    ``concurrency``, ``workers`` and ``worker_cpu_s`` (CPU seconds each server process used
    during the burst: shows how evenly the kernel spread the connections).
    """
    if not customer_ids:
        raise ValueError("measure_api needs at least one customer id")
    workers = default_workers(concurrency) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    token = secrets.token_urlsafe(16)
    sock = _listen()
    port = sock.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_serve, args=(open_graph, token, sock), daemon=True) for _ in range(workers)]
    for proc in procs:
        proc.start()
    sock.close()  # the workers hold it now
    headers = {"Authorization": f"Bearer {token}"}
    conns = [_Conn(port, headers, timeout_s) for _ in range(concurrency)]
    try:
        _wait_ready(port, procs, time.monotonic() + 30)
        paths = [
            f"/customers/{customer_ids[i % len(customer_ids)]}/" + ("view" if i % 2 == 0 else "recommendations?k=10")
            for i in range(requests)
        ]
        # warm-up: open every connection (each lands on some worker) and let that worker
        # connect to the graph and fill its caches before the clock starts
        for i, conn in enumerate(conns):
            for path in paths[2 * i: 2 * i + 2] or paths[:2]:
                conn.get(path)
        results: list[tuple[int, float]] = []
        lock = threading.Lock()
        next_index = iter(range(len(paths)))

        def client(conn: _Conn) -> None:
            mine: list[tuple[int, float]] = []
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                t0 = time.perf_counter()
                status = conn.get(paths[i])
                mine.append((status, (time.perf_counter() - t0) * 1000))
            with lock:
                results.extend(mine)

        threads = [threading.Thread(target=client, args=(conn,), daemon=True) for conn in conns]
        cpu_before = [_cpu_seconds(p.pid) for p in procs]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout_s + 60)
        elapsed = time.perf_counter() - started
        cpu_after = [_cpu_seconds(p.pid) for p in procs]
        if any(t.is_alive() for t in threads) or not results:
            raise RuntimeError("the API burst did not finish in time")
        latencies = sorted(ms for _, ms in results)
        return {
            "requests": len(results),
            "seconds": elapsed,
            "rps": len(results) / elapsed,
            "errors": sum(status != 200 for status, _ in results),
            "error_statuses": dict(Counter(status for status, _ in results if status != 200)),
            "p50_ms": statistics.median(latencies),
            "concurrency": concurrency,
            "workers": workers,
            "worker_cpu_s": [
                round(b - a, 2) if a is not None and b is not None else None for a, b in zip(cpu_before, cpu_after)
            ],
        }
    finally:
        for conn in conns:
            conn.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
