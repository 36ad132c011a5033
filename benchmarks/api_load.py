"""Requests per second the HTTP API serves: a real uvicorn server, a bounded burst of mixed calls.

The server runs in a forked child process (its own interpreter lock), the client here with a
small thread pool, both on loopback only; the burst has a fixed number of requests.
"""

from __future__ import annotations

import multiprocessing
import secrets
import socket
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from graph.backend import GraphBackend

__all__ = ["measure_api"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(open_graph: Callable[[], GraphBackend], token: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(open_graph, token=token), host="127.0.0.1", port=port, log_level="warning")


def measure_api(
    open_graph: Callable[[], GraphBackend],
    customer_ids: Sequence[str],
    *,
    requests: int = 600,
    concurrency: int = 8,
    timeout_s: float = 120.0,
) -> dict:
    """Serve the API for ``open_graph`` and time ``requests`` alternating view / recommendation calls."""
    import httpx

    token, port = secrets.token_urlsafe(16), _free_port()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(open_graph, token, port), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not proc.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.1)
        paths = [
            f"/customers/{customer_ids[i % len(customer_ids)]}/" + ("view" if i % 2 == 0 else "recommendations?k=10")
            for i in range(requests)
        ]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s) as client:

            def call(path: str) -> tuple[int, float]:
                t0 = time.perf_counter()
                status = client.get(path).status_code
                return status, (time.perf_counter() - t0) * 1000

            for path in paths[: min(20, len(paths))]:  # warm-up: caches, connections
                call(path)
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                started = time.perf_counter()
                results = list(pool.map(call, paths))
                elapsed = time.perf_counter() - started
        latencies = sorted(ms for _, ms in results)
        return {
            "requests": len(results),
            "seconds": elapsed,
            "rps": len(results) / elapsed,
            "errors": sum(status != 200 for status, _ in results),
            "p50_ms": statistics.median(latencies),
            "concurrency": concurrency,
        }
    finally:
        proc.terminate()
        proc.join(10)
