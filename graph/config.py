"""Settings read once from the environment into a small dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    """Where the graph lives and how the embedded engine persists.

    ``graph_url``: ``embedded`` (default), ``falkordb://host:port/graph`` or ``neo4j://...``.
    ``home``: the embedded engine's data folder (``$C360_HOME``, default ``./.c360``).
    ``fsync``: ``always`` (default: no acknowledged write is lost on a crash) or ``everysec``
    (faster, may lose up to one second of acknowledged writes).
    ``omp_threads``: OpenMP threads the embedded engine gives one query's matrix work
    (``$C360_ENGINE_OMP_THREADS``, default 1). More only pays on an otherwise idle machine
    with cores to spare: on a 2-core machine with the loader or API busy on the other core,
    two threads spin-waiting on each other doubled the engine's CPU per bulk write.
    """

    graph_url: str = "embedded"
    graph_name: str = "c360"
    home: Path = Path(".c360")
    fsync: str = "always"
    omp_threads: int = 1


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read ``C360_GRAPH_URL``, ``C360_GRAPH_NAME``, ``C360_HOME``, ``C360_FSYNC`` and
    ``C360_ENGINE_OMP_THREADS``."""
    from graph.errors import ConfigError

    env = dict(os.environ if env is None else env)
    fsync = env.get("C360_FSYNC", "always")
    if fsync not in {"always", "everysec"}:
        raise ConfigError(f"C360_FSYNC must be 'always' or 'everysec', not {fsync!r}")
    threads = env.get("C360_ENGINE_OMP_THREADS", "1") or "1"
    if not threads.isdigit() or not 1 <= int(threads) <= 256:
        raise ConfigError(f"C360_ENGINE_OMP_THREADS must be a whole number from 1 to 256, not {threads!r}")
    return Settings(
        graph_url=env.get("C360_GRAPH_URL", "embedded") or "embedded",
        graph_name=env.get("C360_GRAPH_NAME", "c360") or "c360",
        home=Path(env.get("C360_HOME", ".c360") or ".c360"),
        fsync=fsync,
        omp_threads=int(threads),
    )
