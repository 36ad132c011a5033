"""The benchmark harness at a tiny size: every expected row is there and the numbers are sane.

No timing is asserted (CI machines vary); only what must hold whatever the speed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # benchmarks/ is not an installed package; `pytest` may not have the root on sys.path
    sys.path.insert(0, ROOT)

from benchmarks.run import EVENT_FILES, Size, render_table, run_benchmark, write_results  # noqa: E402
from conftest import new_backend  # noqa: E402
from loaders.contract import CONTRACT  # noqa: E402

TINY = Size("tiny", customers=1_000, latency_sample=15, baseline_rows=300, seed=3, api_requests=40)


@pytest.fixture(scope="module")
def result(server, tmp_path_factory: pytest.TempPathFactory):
    return run_benchmark(TINY, open_graph=lambda name: new_backend(server, name), engine_pid=server.pid,
                         work_dir=tmp_path_factory.mktemp("bench"))


def test_table_has_every_measurement(result) -> None:
    names = [r.metric for r in result.rows]
    assert len(names) == len(set(names))
    expected = {f"load {name}" for name in CONTRACT} | {
        "generate data set", "load event rows overall", "identity resolution + schema", "load whole folder",
        "row-by-row MERGE baseline (transactions)", "batched load, same sample (transactions)",
        "batched vs row-by-row, same sample", "batched (full load) vs row-by-row",
        "clv fit (BG/NBD + Gamma-Gamma + RFM, write-back)", "influence report", "look-alikes build (top-20 for everyone)", "segments build (Louvain)",
        "look-alikes vs nx.jaccard_coefficient, same pairs", "recommendations hit rate@10 / popularity", "peak memory, loader",
        "peak memory, this process", "peak memory, graph engine", "whole benchmark run", "HTTP API, mixed view/recommend",
        "item neighbours build (BOUGHT_WITH, top-50 per product)", "  the same data: ceiling (told each person's community)",
        "hit rate@10 / popularity, taste strength 0.9", "  taste strength 0.9: ceiling (told each person's community)",
    } | {f"{label} p{q}" for label in ("360 view", "recommendations (k=10)", "next best offer") for q in (50, 95, 99)}
    assert expected <= set(names), expected - set(names)


def test_numbers_are_sane(result) -> None:
    files = result.load_report["files"]
    for name, s in files.items():
        assert s["read"] == s["loaded"] + s["rejected"] + s["duplicates"], name
        assert result.row(f"load {name}").value > 0
    event_rows = sum(files[n]["loaded"] for n in EVENT_FILES)
    event_s = sum(files[n]["seconds"] for n in EVENT_FILES) + result.load_report["finish_seconds"]
    assert result.load_report["mode"] == "bulk"  # a fresh engine: the first load is the bulk build
    assert result.row("load event rows overall").value == pytest.approx(event_rows / event_s, rel=1e-3)
    rbr = result.row("row-by-row MERGE baseline (transactions)").value
    same = result.row("batched load, same sample (transactions)").value
    assert rbr > 0 and same > 0
    assert result.row("batched vs row-by-row, same sample").value == pytest.approx(same / rbr, rel=1e-2)
    cypher = result.row("batched Cypher (UNWIND) load, same sample (transactions)").value
    assert result.row("batched Cypher vs row-by-row, same sample").value == pytest.approx(cypher / rbr, rel=1e-2)
    for r in result.rows:
        if r.status == "skipped":
            assert r.value is None and r.note.startswith("skipped"), r
        elif r.unit in ("s", "ms", "rows/s", "x", "MB", "req/s"):
            assert r.value is not None and r.value >= 0, r
        assert r.status in ("", "ok", "MISSED", "skipped"), r
    for key, lat in result.latencies.items():
        assert lat["errors"] == 0, (key, lat["first_error"])
        assert lat["calls"] == TINY.latency_sample
        assert 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    api = result.row("HTTP API, mixed view/recommend")
    assert api.value > 0 and "40 requests" in api.note and ", 0 errors" in api.note, api
    assert result.row("peak memory, this process").value > 50
    assert 50 < result.row("peak memory, loader").value <= result.row("peak memory, this process").value
    assert result.row("look-alikes vs nx.jaccard_coefficient, same pairs").value > 0
    assert result.row("recommendations hit rate@10 / popularity").value > 0
    for label in ("recommendations hit rate@10 / popularity", "hit rate@10 / popularity, taste strength 0.9"):
        assert result.row(label).value > 1, label  # neighbours beat popularity on planted communities
    stronger = result.row("  taste strength 0.9: ceiling (told each person's community)").value
    assert stronger > result.row("  the same data: ceiling (told each person's community)").value > 1
    assert result.row("peak memory, graph engine").value > 0
    assert result.machine["cores"] and result.machine["memory_gb"] and result.machine["load_average_at_start"]


def test_results_files_hold_the_same_table(result, tmp_path: Path) -> None:
    md, js = write_results(result, tmp_path)
    assert md.name.startswith("tiny-") and md.suffix == ".md" and js.suffix == ".json"
    text = md.read_text()
    assert text == render_table(result)
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| metric")]
    assert len(table) == len(result.rows)
    assert "cores" in text and "load average" in text
    data = json.loads(js.read_text())
    assert [r["metric"] for r in data["rows"]] == [r.metric for r in result.rows]
    assert data["machine"]["cores"] == result.machine["cores"]


def test_a_dead_engines_log_is_kept(tmp_path: Path, monkeypatch, capsys) -> None:
    from benchmarks import run as bench

    home, keep = tmp_path / "home", tmp_path / "keep"
    home.mkdir()
    keep.mkdir()
    (home / "redis.log").write_text("=== REDIS BUG REPORT START ===\n")
    monkeypatch.setattr(bench.tempfile, "gettempdir", lambda: str(keep))
    bench._keep_engine_log(home)
    kept = list(keep.glob("c360bench-engine-*.log"))
    assert len(kept) == 1 and "BUG REPORT" in kept[0].read_text()
    assert str(kept[0]) in capsys.readouterr().err
