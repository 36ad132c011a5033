"""The engine's bulk build of an empty graph: the same graph as batched Cypher, never half a graph.

Answers come from the Cypher path over the same files (itself checked against pandas in
tests/test_load.py) and from plain Python for the encoders.
"""

from __future__ import annotations

import gc
import math
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import new_backend
from graph import embedded
from graph.errors import GraphError, InputError
from graph.falkor import FalkorBackend
from graph.falkor_bulk import BulkGraphBuilder, _encode_one, encode_values
from graph_snapshot import snapshot
from loaders.bulk import STAGING_INFIX, BulkSink
from loaders.contract import CONTRACT
from loaders.generate import generate
from loaders.load import load_folder
from loaders.validate import _strip
from tests_support_paths import read_csv


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated files (malformed and duplicate rows included) plus an extra column in each."""
    folder = tmp_path_factory.mktemp("bulk")
    generate(folder, customers=300, seed=5)
    for name in CONTRACT:
        df = read_csv(folder / f"{name}.csv")
        df["src_note"] = [f"n{i}" if i % 3 else "" for i in range(len(df))]
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _graphs(graph: FalkorBackend) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else n for n in graph.execute_command("GRAPH.LIST")]


def _staging(graph: FalkorBackend) -> list[str]:
    return [n for n in _graphs(graph) if n.startswith(graph.graph_name + STAGING_INFIX)]


def test_bulk_build_writes_the_same_graph_as_cypher(graph, server, dataset: Path, tmp_path: Path) -> None:
    bulk = load_folder(graph, dataset, batch_size=97, report_dir=tmp_path / "a", bulk=True)
    other = new_backend(server)
    try:
        cypher = load_folder(other, dataset, batch_size=97, report_dir=tmp_path / "b", bulk=False)
        assert (bulk.mode, cypher.mode) == ("bulk", "cypher")
        assert {k: (v.read, v.loaded, v.rejected, v.duplicates) for k, v in bulk.files.items()} == {
            k: (v.read, v.loaded, v.rejected, v.duplicates) for k, v in cypher.files.items()
        }
        assert bulk.identity == cypher.identity
        assert snapshot(graph) == snapshot(other)
        for name in CONTRACT:
            assert (tmp_path / "a" / f"{name}.csv.rejects.csv").exists() == (tmp_path / "b" / f"{name}.csv.rejects.csv").exists()
    finally:
        other.drop()
    assert _staging(graph) == []
    assert graph.execute_command("TTL", graph.graph_name) == -1  # the staging graph's expiry is gone
    assert gc.isenabled()  # the loader pauses automatic collection only while it loads


def test_bulk_graph_has_its_indexes_and_uniqueness_rules(graph, dataset: Path, tmp_path: Path) -> None:
    load_folder(graph, dataset, report_dir=tmp_path / "r", bulk=True)
    plan = "\n".join(graph.execute_command("GRAPH.EXPLAIN", graph.graph_name, "MATCH (c:Customer {customer_id: 'x'}) RETURN c"))
    assert "Index Scan" in plan
    some = graph.read("MATCH (c:Customer) RETURN c.customer_id AS id LIMIT 1")[0]["id"]
    with pytest.raises(GraphError, match="unique constraint"):
        graph.write("CREATE (:Customer {customer_id: $id})", {"id": some})


def test_auto_mode_builds_empty_graphs_and_merges_into_filled_ones(graph, dataset: Path, tmp_path: Path) -> None:
    assert load_folder(graph, dataset, report_dir=tmp_path / "1").mode == "bulk"
    before = snapshot(graph)
    with pytest.raises(InputError, match="already holds data"):
        load_folder(graph, dataset, report_dir=tmp_path / "2", bulk=True)
    assert snapshot(graph) == before
    assert load_folder(graph, dataset, report_dir=tmp_path / "3").mode == "cypher"
    assert snapshot(graph) == before


def test_data_written_to_the_target_meanwhile_is_kept(graph, server, dataset: Path, tmp_path: Path) -> None:
    """Another writer fills the empty target during the build: the build must not replace it;
    the load goes through Cypher instead and both writes survive."""
    wrote: list[bool] = []

    def progress(name: str, rows: int, done: int, total: int) -> None:
        if not wrote:
            graph.write("CREATE (:Customer {customer_id: 'written-meanwhile'})")
            wrote.append(True)

    report = load_folder(graph, dataset, report_dir=tmp_path / "r", progress=progress)
    assert report.mode == "cypher"
    clean = new_backend(server)
    try:
        load_folder(clean, dataset, report_dir=tmp_path / "c")
        nodes, edges = snapshot(graph)
        clean_nodes, clean_edges = snapshot(clean)
        assert {n for n in nodes if "written-meanwhile" not in n} == clean_nodes
        assert '[["Customer"], {"customer_id": "written-meanwhile"}]' in nodes  # (and its own Person)
        assert {e for e in edges if "written-meanwhile" not in e} == clean_edges
    finally:
        clean.drop()
    assert _staging(graph) == []


def test_a_failed_build_leaves_the_target_empty_and_drops_its_staging(graph, dataset: Path, tmp_path: Path, monkeypatch) -> None:
    calls = {"n": 0}
    real = BulkSink.stage

    def failing(self, spec, checked):
        calls["n"] += 1
        if spec.name == "transactions":
            raise GraphError("disk full (simulated)")
        return real(self, spec, checked)

    monkeypatch.setattr(BulkSink, "stage", failing)
    with pytest.raises(GraphError, match="simulated"):
        load_folder(graph, dataset, report_dir=tmp_path / "r")
    assert calls["n"] > 1
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
    assert _staging(graph) == []
    assert gc.isenabled()


def test_bulk_built_graph_survives_an_engine_restart(dataset: Path, tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="c360b-", dir="/tmp"))  # short: unix socket paths are limited
    try:
        server = embedded.start(home)
        g = FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password, graph_name="g")
        assert load_folder(g, dataset, report_dir=tmp_path / "r").mode == "bulk"
        before = snapshot(g)
        g.close()
        embedded.stop(home)
        server = embedded.start(home)
        g = FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password, graph_name="g")
        assert snapshot(g) == before
        assert _graphs(g) == ["g"]
        g.close()
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def test_builder_ids_follow_send_order(graph) -> None:
    """Node ids are counted by the builder; edges named by them land on the right nodes."""
    staging = graph.graph_name + STAGING_INFIX + "unit"
    builder = BulkGraphBuilder(graph, staging)
    builder.begin()
    a = builder.add_nodes("Customer", {"customer_id": ["a", "b", None]}, 3)
    b = builder.add_nodes("Product", {"product_id": ["p"], "price": [2.5]}, 1)
    builder.add_edges("REFERRED", np.array([a]), np.array([a + 1]), {"kind": ["referral"], "ts": [7]})
    first = builder.take()
    c = builder.add_nodes("Customer", {"customer_id": ["c"]}, 1)
    builder.add_edges("REFERRED", np.array([c]), np.array([a]))
    builder.send(first)
    builder.send(builder.take())
    assert (a, b, c) == (0, 3, 4)
    other = FalkorBackend(graph.client, staging)
    rows = other.read("MATCH (x)-[e:REFERRED]->(y) RETURN x.customer_id AS x, y.customer_id AS y, properties(e) AS p ORDER BY x")
    assert rows == [{"x": "a", "y": "b", "p": {"kind": "referral", "ts": 7}}, {"x": "c", "y": "a", "p": {}}]
    assert other.read("MATCH (n:Customer) WHERE n.customer_id IS NULL RETURN count(n) AS n") == [{"n": 1}]
    assert 0 < graph.execute_command("TTL", staging) <= 3600
    other.drop()


@pytest.mark.parametrize(
    "column",
    [
        ["a", None, "é", "", "x" * 300],
        [1, None, -5, 2**40],
        [1.5, None, float("nan"), 0.0, -2.25],
        [True, None, False],
        [1, "a", 2.0, None, True],
        [np.int64(3), np.float64(1.5), np.bool_(True)],
    ],
)
def test_column_encoder_matches_the_per_value_encoder(column: list) -> None:
    assert encode_values(column) == [_encode_one(v) for v in column]


def test_values_the_format_cannot_carry_are_refused() -> None:
    with pytest.raises(GraphError, match="NUL"):
        encode_values(["ok", "a\x00b"])
    with pytest.raises(GraphError, match="non-finite"):
        encode_values([1.0, math.inf])
    assert _encode_one(None) == b"\x00" == _encode_one(float("nan"))


def test_fast_trim_equals_str_strip() -> None:
    """Validation skips ``str.strip`` when no cell has edge whitespace; the check must never miss one."""
    alphabet = ["a", " ", "\t", "\n", "\x1f", "\x1c", "\x85", "\u3000", "é", "\x00", ","]
    rnd = random.Random(7)
    for _ in range(3000):
        values = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 4))) for _ in range(rnd.randint(1, 5))]
        cells = pd.Series(values, dtype=object)
        assert _strip(cells).tolist() == cells.str.strip().tolist(), values


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "cypher"])
def test_parquet_cells_with_nul_are_rejected_like_csv_ones(graph, tmp_path: Path, bulk: bool) -> None:
    pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "source": ["crm", "crm", "web"], "name": ["Ann", "B\x00b", None]}).to_parquet(
        tmp_path / "customers.parquet", index=False
    )
    report = load_folder(graph, tmp_path, report_dir=tmp_path / "r", bulk=bulk)
    s = report.files["customers"]
    assert (s.read, s.loaded, s.rejected) == (3, 2, 1)
    rejects = pd.read_csv(s.rejects_file, dtype=str, keep_default_na=False)
    assert rejects["row"].tolist() == ["2"] and "NUL" in rejects["reason"].iloc[0]
    assert graph.read("MATCH (c:Customer) RETURN c.customer_id AS id ORDER BY id") == [{"id": "c1"}, {"id": "c3"}]


def test_rename_waits_out_a_reader_and_refuses_a_writer(graph) -> None:
    """finish() checks and renames in one optimistic transaction: a key created meanwhile (a
    reader on a missing graph) means a retry; data written after the check means no rename."""
    target = graph.graph_name
    graph.execute_command("DEL", target)

    def build(suffix: str) -> BulkGraphBuilder:
        builder = BulkGraphBuilder(graph, target + STAGING_INFIX + suffix)
        builder.begin()
        builder.add_nodes("Customer", {"customer_id": ["built"]}, 1)
        return builder

    checks: list[int] = []

    def empty_but_a_reader_creates_it() -> bool:
        checks.append(1)
        if len(checks) == 1:
            graph.read("MATCH (n) RETURN count(n) AS n")  # creates the missing graph, empty
        return graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0

    assert build("r").finish(target, empty_but_a_reader_creates_it)
    assert len(checks) == 2  # the reader's creation aborted the first rename
    assert graph.read("MATCH (n) RETURN n.customer_id AS id") == [{"id": "built"}]

    graph.execute_command("DEL", target)
    graph.read("MATCH (n) RETURN count(n) AS n")
    seen: list[int] = []

    def empty_then_a_writer_fills_it() -> bool:
        n = graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"]
        seen.append(n)
        if n == 0:
            graph.write("CREATE (:Customer {customer_id: 'theirs'})")  # lands after the check
        return n == 0

    late = build("w")
    assert not late.finish(target, empty_then_a_writer_fills_it)
    assert seen == [0, 1]
    assert graph.read("MATCH (n) RETURN n.customer_id AS id") == [{"id": "theirs"}]
    late.discard()


def test_a_batch_larger_than_one_command_is_split(graph) -> None:
    """Large text cells: a batch's nodes go out in several commands, ids still in order."""
    staging = graph.graph_name + STAGING_INFIX + "split"
    builder = BulkGraphBuilder(graph, staging, command_bytes=2_000)
    builder.begin()
    texts = [f"{i:03d}" + "x" * 300 for i in range(40)]
    first = builder.add_nodes("Interaction", {"interaction_id": [f"i{i}" for i in range(40)], "text": texts}, 40)
    builder.add_edges("ABOUT_TICKET", np.arange(first, first + 39), np.arange(first + 1, first + 40))
    commands = builder.take()
    assert len(commands) > 5 and all(sum(len(b) for b in c[4:]) <= 2_000 for c in commands)
    builder.send(commands)
    other = FalkorBackend(graph.client, staging)
    rows = other.read("MATCH (a:Interaction)-[:ABOUT_TICKET]->(b) RETURN a.interaction_id AS a, b.interaction_id AS b, a.text AS t ORDER BY a")
    assert sorted((r["a"], r["b"]) for r in rows) == sorted((f"i{i}", f"i{i + 1}") for i in range(39))
    assert {r["a"]: r["t"] for r in rows} == {f"i{i}": texts[i] for i in range(39)}
    other.drop()
