"""The foundation as a user meets it: c360 db, c360 cypher, c360 schema, errors as one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from cli.main import app, main
from graph import embedded


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cypher_json_is_exactly_what_the_readme_says(cli_env, capsys) -> None:
    assert run(capsys, "cypher", "RETURN 1 AS x", "--format", "json") == (0, '[{"x": 1}]\n', "")


def test_cypher_params_are_values_not_text(cli_env, capsys) -> None:
    tricky = "x' }) MATCH (n) DETACH DELETE n //"
    code, out, _ = run(capsys, "cypher", "CREATE (c:Customer {customer_id: $id}) RETURN c.customer_id AS id", "-p", f"id={tricky}", "-f", "json")
    assert code == 0 and json.loads(out) == [{"id": tricky}]
    code, out, _ = run(capsys, "cypher", "MATCH (c:Customer) RETURN count(c) AS n, $n + 1 AS m", "-p", "n=41", "-f", "csv")
    assert out.splitlines() == ["n,m", "1,42"]


def test_engine_errors_are_one_line(cli_env, capsys) -> None:
    code, out, err = run(capsys, "cypher", "MATCH (n RETURN n")
    assert code == 1 and out == ""
    assert err.startswith("error: FalkorDB:") and err.count("\n") == 1
    assert "Traceback" not in err


def test_read_only_refuses_writes(cli_env, capsys) -> None:
    code, _, err = run(capsys, "cypher", "CREATE (:Customer {customer_id: 'z'})", "--read-only")
    assert code == 1 and "error:" in err


def test_bad_graph_url_is_a_message(cli_env, capsys) -> None:
    code, _, err = run(capsys, "--graph", "mysql://u:secret@h/db", "cypher", "RETURN 1")
    assert code == 1 and "secret" not in err and "error:" in err


def test_bad_option_value_is_a_usage_message(capsys) -> None:
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 2
    assert "Invalid value for '--port'" in err and "unexpected" not in err and "Traceback" not in err


def test_verbose_shows_the_traceback(cli_env, capsys) -> None:
    code, _, err = run(capsys, "--verbose", "cypher", "MATCH (n RETURN n")
    assert code == 1 and "Traceback" in err


def test_schema_apply_is_idempotent(cli_env, capsys) -> None:
    code, out, _ = run(capsys, "schema", "apply")
    assert code == 0 and "created" in out
    code, out, _ = run(capsys, "schema", "apply")
    assert code == 0 and out.strip() == "schema up to date"
    code, out, _ = run(capsys, "schema", "show", "-f", "json")
    indexed = {(r["label"], p) for r in json.loads(out) if r["kind"] == "index" for p in r["properties"]}
    unique = {(r["label"], p) for r in json.loads(out) if r["kind"].startswith("constraint unique") for p in r["properties"]}
    from graph.schema import NODE_KEYS

    assert set(NODE_KEYS.items()) <= indexed
    assert set(NODE_KEYS.items()) <= unique


def test_data_survives_db_stop_and_start(tmp_path: Path) -> None:
    """Through the installed console command, as a user types it, in its own data folder."""
    env = {**os.environ, "C360_HOME": str(tmp_path / "home"), "C360_GRAPH_NAME": "persist"}
    env.pop("C360_GRAPH_URL", None)
    exe = [sys.executable, "-m", "cli"]

    def c360(*args: str) -> str:
        proc = subprocess.run([*exe, *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    try:
        c360("db", "start")
        c360("cypher", "UNWIND range(1, 500) AS i CREATE (:Customer {customer_id: toString(i)})")
        assert "running" in c360("db", "status")
        assert "stopped" in c360("db", "stop")
        assert "stopped" in c360("db", "status")
        assert json.loads(c360("cypher", "MATCH (c:Customer) RETURN count(c) AS n", "-f", "json")) == [{"n": 500}]
    finally:
        embedded.stop(tmp_path / "home")


def test_engine_survives_sigkill_with_acknowledged_writes(tmp_path: Path) -> None:
    import signal

    from graph.falkor import FalkorBackend

    home = tmp_path / "h"
    server = embedded.start(home)  # fsync=always: every acknowledged write is on disk
    g = FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password, graph_name="k")
    g.write("UNWIND range(1, 2000) AS i CREATE (:Customer {customer_id: toString(i)})")
    os.kill(server.pid, signal.SIGKILL)
    try:
        server = embedded.start(home)
        g = FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password, graph_name="k")
        assert g.read("MATCH (c:Customer) RETURN count(c) AS n") == [{"n": 2000}]
    finally:
        embedded.stop(home)


def test_engine_needs_its_password_and_has_no_tcp_port(server) -> None:
    import redis

    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(unix_socket_path=str(server.socket)).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(unix_socket_path=str(server.socket), password="wrong").ping()
    client = redis.Redis(unix_socket_path=str(server.socket), password=server.password)
    assert client.config_get("port")["port"] == "0"
    assert oct(server.socket.stat().st_mode & 0o777) == "0o700"
    assert oct((server.home / "password").stat().st_mode & 0o777) == "0o600"


def test_engine_runs_the_configured_openmp_threads(server) -> None:
    """One OpenMP thread per query by default: two spin-waiting on a 2-core machine doubled the
    engine's CPU per bulk write while the loader kept the other core busy."""
    import redis

    from graph.config import load_settings
    from graph.errors import ConfigError

    client = redis.Redis(unix_socket_path=str(server.socket), password=server.password)
    name, value = client.execute_command("GRAPH.CONFIG", "GET", "OMP_THREAD_COUNT")
    assert name in (b"OMP_THREAD_COUNT", "OMP_THREAD_COUNT") and int(value) == load_settings({}).omp_threads == 1
    assert load_settings({"C360_ENGINE_OMP_THREADS": "2"}).omp_threads == 2
    for bad in ("0", "two", "-1"):
        with pytest.raises(ConfigError, match="C360_ENGINE_OMP_THREADS"):
            load_settings({"C360_ENGINE_OMP_THREADS": bad})


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path, cmd in walk(root, []):
        assert (cmd.help or "").strip(), f"c360 {' '.join(path)} has no help text"


def test_parameters_round_trip_verbatim(graph) -> None:
    import math

    from graph.errors import GraphError

    values = {
        "s": 'q"uo\'te `tick` {brace} \\back\\slash\\ \n new\tline é 😀 MATCH (n) DETACH DELETE n //',
        "i": -(2**53),
        "f": 1e-7,
        "b": False,
        "n": None,
        "l": [1, "two", None, [3.5]],
        "m": {"a key": "v", "x": [True]},
    }
    got = graph.read("RETURN $s AS s, $i AS i, $f AS f, $b AS b, $n AS n, $l AS l, $m AS m", values)[0]
    assert got == values
    with pytest.raises(GraphError, match="finite"):
        graph.read("RETURN $x AS x", {"x": [1.0, math.nan]})
    with pytest.raises(GraphError, match="backtick"):
        graph.read("RETURN $x AS x", {"x": {"a`b": 1}})
