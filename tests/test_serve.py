"""``c360 serve`` and the env-built app: the factory, the token refusal, ``--workers``, a real 2-worker start."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import app_from_env
from cli.main import app as cli_app
from cli.main import main as cli_main
from graph.errors import ConfigError
from loaders.load import load_folder
from queries.recommend import recommend
from support.nbo_fixture import write_folder

TOKEN = "s3cret-token-for-serve-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def loaded(graph, tmp_path):
    write_folder(tmp_path)
    load_folder(graph, tmp_path, report_dir=tmp_path / "report")
    return graph


def test_app_from_env_serves_the_graph_the_environment_names(loaded, engine_home):
    env = {"C360_API_TOKEN": TOKEN, "C360_HOME": str(engine_home), "C360_GRAPH_NAME": loaded.graph_name}
    with TestClient(app_from_env(env)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/customers/a1/recommendations").status_code == 401
        r = client.get("/customers/a1/recommendations", params={"k": 3}, headers=AUTH)
        assert r.status_code == 200
        assert r.json() == {"customer_id": "a1", "items": recommend(loaded, "a1", k=3)}
        assert client.get("/customers/nobody/recommendations", headers=AUTH).status_code == 404


def test_app_from_env_reads_os_environ_by_default(loaded, engine_home, monkeypatch):
    monkeypatch.setenv("C360_API_TOKEN", TOKEN)
    monkeypatch.setenv("C360_HOME", str(engine_home))
    monkeypatch.setenv("C360_GRAPH_NAME", loaded.graph_name)
    monkeypatch.delenv("C360_GRAPH_URL", raising=False)
    with TestClient(app_from_env()) as client:
        assert client.get("/customers/a1/recommendations", headers=AUTH).status_code == 200


@pytest.mark.parametrize("env, words", [
    ({}, "C360_API_TOKEN"),
    ({"C360_API_TOKEN": "  "}, "C360_API_TOKEN"),
    ({"C360_API_TOKEN": TOKEN, "C360_GRAPH_URL": "ftp://nowhere"}, "unsupported graph URL"),
])
def test_app_from_env_refuses_a_missing_token_or_a_bad_url(env, words):
    with pytest.raises(ConfigError, match=words):
        app_from_env(env)


def test_serve_without_a_token_is_one_line_not_a_traceback(cli_env, monkeypatch, capsys):
    monkeypatch.delenv("C360_API_TOKEN", raising=False)
    assert cli_main(["serve", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: set C360_API_TOKEN") and "Traceback" not in err


@pytest.fixture()
def fake_uvicorn(cli_env, monkeypatch):
    """``uvicorn.run`` replaced by a recorder; the environment the workers would inherit kept clean."""
    import uvicorn

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setenv("C360_API_TOKEN", TOKEN)
    monkeypatch.delenv("C360_GRAPH_URL", raising=False)
    return calls


@pytest.mark.parametrize("given, expected", [([], 1), (["--workers", "3"], 3), (["--workers", "auto"], None),
                                             (["--workers", "0"], None)])
def test_workers_reach_uvicorn_with_the_env_factory(fake_uvicorn, given, expected):
    out = CliRunner().invoke(cli_app, ["serve", "--port", "8399", *given])
    assert out.exit_code == 0, out.output
    (args, kwargs), = fake_uvicorn
    assert args == ("api.app:app_from_env",) and kwargs["factory"] is True
    assert kwargs["workers"] == (expected or len(os.sched_getaffinity(0)))
    assert kwargs["port"] == 8399 and kwargs["host"] == "127.0.0.1"
    assert TOKEN not in repr((args, kwargs))  # the token travels in the environment only
    assert os.environ["C360_API_TOKEN"] == TOKEN


@pytest.mark.parametrize("bad", ["-1", "many", "1.5"])
def test_bad_worker_counts_are_refused_with_a_message(fake_uvicorn, bad):
    out = CliRunner().invoke(cli_app, ["serve", "--workers", bad])
    assert out.exit_code == 2 and "--workers" in out.output
    assert not fake_uvicorn


def test_graph_url_and_generated_token_go_to_the_workers_environment(fake_uvicorn, monkeypatch, cli_env):
    monkeypatch.delenv("C360_API_TOKEN")
    out = CliRunner().invoke(cli_app, ["--graph", "embedded", "serve", "--generate-token", "--workers", "2"])
    assert out.exit_code == 0, out.output
    (args, kwargs), = fake_uvicorn
    token = os.environ["C360_API_TOKEN"]
    assert len(token) >= 32 and token not in repr((args, kwargs))
    assert os.environ["C360_GRAPH_URL"] == "embedded" and kwargs["workers"] == 2
    assert kwargs["access_log"] is True  # on unless --no-access-log


def test_an_unreachable_graph_stops_serve_before_any_worker_starts(fake_uvicorn):
    out = CliRunner().invoke(cli_app, ["--graph", "falkordb://127.0.0.1:1/g", "serve"])
    assert out.exit_code != 0 and "cannot reach FalkorDB" in str(out.exception)
    assert not fake_uvicorn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


@pytest.mark.timeout(60)
def test_two_real_workers_answer_with_the_token_only(loaded, engine_home):
    port = _free_port()
    env = {**os.environ, "C360_API_TOKEN": TOKEN, "C360_HOME": str(engine_home), "C360_GRAPH_NAME": loaded.graph_name}
    env.pop("C360_GRAPH_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/health") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the server did not answer /health in 30 s"
            time.sleep(0.1)
        for _ in range(6):  # several connections: whichever worker takes each answers the same
            assert _get(port, "/customers/a1/recommendations") == 401
            assert _get(port, "/customers/a1/recommendations", {"Authorization": "Bearer wrong"}) == 401
            assert _get(port, "/customers/a1/recommendations", AUTH) == 200
            assert _get(port, "/customers/nobody/view", AUTH) == 404
        # keep-alive answers come at once: without TCP_NODELAY each one waited ~40 ms for a delayed ACK
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            conn.request("GET", "/customers/a1/view", headers=AUTH)
            response = conn.getresponse()
            assert response.status == 200 and response.read()
            times.append(time.perf_counter() - t0)
        conn.close()
        assert sorted(times)[3] < 0.03, times
        workers = [pid for pid in _children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 2
        for pid in [proc.pid, *workers]:  # the token is in no command line
            assert TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        proc.stderr.close()
    assert proc.returncode == 0
