"""``c360 influence``, ``c360 lookalike`` and ``c360 segments`` through the CLI on a generated data set."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph.errors import InputError, NotFoundError
from loaders.generate import generate
from loaders.load import load_folder

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(server, tmp_path_factory: pytest.TempPathFactory):
    """A generated data set loaded once into a named graph of the session's engine."""
    from conftest import new_backend

    folder = tmp_path_factory.mktemp("analytics_cli") / "data"
    truth = generate(folder, customers=300, seed=5)
    name = f"cli_analytics_{uuid.uuid4().hex[:8]}"
    backend = new_backend(server, name)
    load_folder(backend, folder, report_dir=tmp_path_factory.mktemp("report"))
    yield name, truth, folder
    backend.drop()
    backend.close()


@pytest.fixture()
def env(cli_env, dataset, monkeypatch: pytest.MonkeyPatch):
    name, truth, folder = dataset
    monkeypatch.setenv("C360_GRAPH_NAME", name)
    return truth, folder


def _run(*args: str):
    from cli.main import app

    return runner.invoke(app, list(args))


def _customers(folder: Path, truth) -> set[str]:
    df = pd.read_csv(folder / "customers.csv", dtype=str, keep_default_na=False)
    bad = {m["row"] - 1 for m in truth.malformed if m["file"] == "customers.csv"}
    return set(df.drop(index=sorted(bad))["customer_id"])


def test_influence_json_ranks_the_planted_influencers_first(env) -> None:
    truth, _ = env
    result = _run("influence", "--top", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert set(r["customer_id"] for r in rows[: len(truth.influencers)]) == set(truth.influencers)
    assert set(rows[0]) == {"rank", "customer_id", "name", "score", "reach_direct", "reach_total",
                            "referred_revenue", "segment_id"}
    assert rows[0]["score"] == pytest.approx(1.0)
    assert all(r["reach_total"] >= r["reach_direct"] >= 0 for r in rows)


def test_influence_csv_and_table_and_plot(env, tmp_path: Path) -> None:
    result = _run("influence", "--top", "4", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4 and rows[0]["rank"] == "1" and float(rows[0]["score"]) == pytest.approx(1.0)

    png = tmp_path / "charts" / "influence.png"
    result = _run("influence", "--top", "3", "--plot", str(png), "--engine", "networkx")
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    for heading in ("rank", "customer", "score", "segment", "Most influential"):
        assert heading in result.stdout


def test_influence_rejects_a_bad_plot_name_and_engine(env, tmp_path: Path) -> None:
    result = _run("influence", "--plot", str(tmp_path / "chart.jpg"))
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
    result = _run("influence", "--engine", "spark")
    assert result.exit_code == 2 and "spark" in result.output


def test_lookalike_of_one_customer(env) -> None:
    truth, _ = env
    target = truth.influencers[0]
    result = _run("lookalike", target, "--k", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert 1 <= len(rows) <= 4
    assert target not in {r["customer_id"] for r in rows}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert all(r["why"] and r["shared"] >= len(r["why"]) for r in rows)

    result = _run("lookalike", "nobody-42")
    assert result.exit_code != 0 and isinstance(result.exception, NotFoundError)
    assert "nobody-42" in str(result.exception)


def test_lookalike_seed_file_lines_and_csv(env, tmp_path: Path) -> None:
    truth, folder = env
    seeds = list(truth.influencers)
    lines = tmp_path / "seeds.txt"
    lines.write_text("\n".join(seeds) + "\n\n")
    result = _run("lookalike", "--seed-file", str(lines), "--size", "12", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 12
    ids = [r["customer_id"] for r in rows]
    assert len(set(ids)) == 12 and not set(ids) & set(seeds)
    assert set(ids) <= _customers(folder, truth)

    table = tmp_path / "seeds.csv"
    table.write_text("name,customer_id\nA," + seeds[0] + "\nB," + seeds[1] + "\n")
    result = _run("lookalike", "--seed-file", str(table), "--size", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out) == 5 and {r["nearest_seed"] for r in out} <= set(seeds[:2])


def test_lookalike_seed_file_errors(env, tmp_path: Path) -> None:
    truth, _ = env
    bad = tmp_path / "bad.csv"
    bad.write_text(f"customer_id\n{truth.influencers[0]}\nghost-7\nghost-9\n")
    result = _run("lookalike", "--seed-file", str(bad), "--size", "5")
    assert result.exit_code != 0 and isinstance(result.exception, NotFoundError)
    assert "ghost-7" in str(result.exception) and "ghost-9" in str(result.exception)

    nocol = tmp_path / "nocol.csv"
    nocol.write_text("id,name\nx,y\n")
    result = _run("lookalike", "--seed-file", str(nocol))
    assert isinstance(result.exception, InputError) and "customer_id" in str(result.exception)

    result = _run("lookalike")
    assert isinstance(result.exception, InputError)


def test_segments_build_then_list(env) -> None:
    truth, folder = env
    result = _run("segments", "build", "--resolution", "1.0", "--format", "json")
    assert result.exit_code == 0, result.output
    built = json.loads(result.stdout)
    assert sum(r["size"] for r in built) == len(_customers(folder, truth))

    result = _run("segments", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [r["segment_id"] for r in listed] == sorted(r["segment_id"] for r in built)
    assert {r["segment_id"]: r["size"] for r in listed} == {r["segment_id"]: r["size"] for r in built}
    assert all(r["description"] for r in listed)

    result = _run("segments", "list")
    assert result.exit_code == 0 and "seg-01" in result.stdout

    # the look-alike pairs behind the segments are stored for recommendations
    from graph.connect import connect

    g = connect()
    try:
        per = g.read("MATCH (a:Customer)-[s:SIMILAR_TO]->(b:Customer) RETURN a.customer_id AS a, count(s) AS n")
    finally:
        g.close()
    assert per and max(r["n"] for r in per) == 20
    first = next(r["a"] for r in per)
    top = json.loads(_run("lookalike", first, "--k", "3", "--format", "json").stdout)
    assert len(top) == 3

    # the influence report now shows each customer's segment
    rows = json.loads(_run("influence", "--top", "3", "--format", "json").stdout)
    assert all(r["segment_id"] for r in rows)
