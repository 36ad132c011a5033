"""Item neighbours (BOUGHT_WITH): the computation, the stored edges and the table-walk recommendations,
each checked against plain Python over the same rows (tests/support/item_reference.py)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.item_neighbours import item_neighbours
from analytics.item_neighbours_build import (
    build_item_neighbours,
    current_build,
    drop_build,
    new_build_id,
    new_eval_build_id,
    purchase_pairs,
)
from graph.errors import InputError
from queries import item_neighbours as q
from queries.recommend import DEFAULTS, clear_item_neighbours_cache, recommend
from support.item_reference import expected_neighbours, expected_table_recommendations
from support.recommend_reference import expected_recommendations, generated_world

TABLE = replace(DEFAULTS, walk="table", lookalike_weight=0.0)
EDGES = """MATCH (a:Product)-[n:BOUGHT_WITH]->(b:Product)
RETURN a.product_id AS a, b.product_id AS b, n.score AS score, n.together AS together, n.build AS build"""


def _as_dict(frame: pd.DataFrame) -> dict[str, list[tuple[str, float, int]]]:
    out: dict[str, list[tuple[str, float, int]]] = {}
    for row in frame.itertuples(index=False):
        out.setdefault(row.product_id, []).append((row.other_id, row.score, int(row.together)))
    return out


@pytest.mark.parametrize("alpha,top_n,min_together", [(0.7, 5, 1), (0.5, 3, 2), (1.0, 50, 1), (0.0, 1, 1)])
def test_neighbours_match_plain_python(alpha, top_n, min_together):
    rng = random.Random(int(alpha * 10) + top_n)
    buyers = [f"b{i}" for i in range(120)]
    products = [f"p{i:02d}" for i in range(30)]
    pairs = [(b, rng.choice(products[: rng.randint(3, 30)])) for b in buyers for _ in range(rng.randint(1, 6))]
    frame = pd.DataFrame(pairs, columns=["buyer", "product_id"])
    got = _as_dict(item_neighbours(frame, top_n=top_n, alpha=alpha, min_together=min_together))
    want = expected_neighbours(pairs, top_n=top_n, alpha=alpha, min_together=min_together)
    assert got.keys() == want.keys()
    for product, rows in want.items():
        assert [r[0] for r in got[product]] == [r[0] for r in rows], product
        assert [r[1] for r in got[product]] == pytest.approx([r[1] for r in rows], rel=1e-12)
        assert [r[2] for r in got[product]] == [r[2] for r in rows]


def test_small_blocks_give_the_same_answer():
    from analytics.item_neighbours import neighbour_blocks

    rng = random.Random(3)
    frame = pd.DataFrame([(f"b{rng.randrange(60)}", f"p{rng.randrange(40)}") for _ in range(400)], columns=["buyer", "product_id"])
    whole = item_neighbours(frame, top_n=7)
    parts = pd.concat(list(neighbour_blocks(frame, top_n=7, block=3)), ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)


def test_bad_arguments_are_refused():
    frame = pd.DataFrame({"buyer": ["a"], "product_id": ["x"]})
    for kwargs in [{"top_n": 0}, {"alpha": 1.5}, {"min_together": 0}]:
        with pytest.raises(InputError):
            item_neighbours(frame, **kwargs)
    with pytest.raises(InputError, match="lack"):
        item_neighbours(pd.DataFrame({"customer": ["a"], "product_id": ["x"]}))
    assert item_neighbours(frame).empty  # one product: no pair


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    """A generated data set (400 accounts, planted taste communities) with a current build."""
    for item in generated_world(server, tmp_path_factory, "items", customers=400, seed=5):
        graph = item[0]
        item = (*item, build_item_neighbours(graph))
        yield item


def _person_pairs(tx: pd.DataFrame, person_of: dict) -> list[tuple[str, str]]:
    return [(person_of.get(c, (c,))[0], p) for c, p in zip(tx.customer_id, tx.product_id)]


def test_stored_edges_match_plain_python(world):
    graph, tx, person_of, _, build = world
    want = expected_neighbours(_person_pairs(tx, person_of), top_n=50, alpha=0.7)
    rows = graph.read(EDGES)
    assert {r["build"] for r in rows} == {build["build"]}
    got: dict[str, list[tuple[str, float, int]]] = {}
    for r in sorted(rows, key=lambda r: (r["a"], -r["score"], r["b"])):
        got.setdefault(r["a"], []).append((r["b"], r["score"], r["together"]))
    assert got.keys() == want.keys()
    for product, expected in want.items():
        assert [g[0] for g in got[product]] == [e[0] for e in expected], product
        assert [g[1] for g in got[product]] == pytest.approx([e[1] for e in expected], rel=1e-9)
    assert build["edges"] == len(rows) == sum(len(v) for v in want.values())
    meta = current_build(graph)
    assert meta["build"] == build["build"] and meta["edges"] == len(rows) and meta["top_n"] == 50


def _history(tx: pd.DataFrame, accounts: set[str], before: int | None = None) -> dict[str, int]:
    mine = tx[tx.customer_id.isin(accounts)]
    if before is not None:
        mine = mine[mine.ts < before]
    return {p: int(t) for p, t in mine.groupby("product_id").ts.max().items()}


def test_table_walk_matches_plain_python(world):
    graph, tx, person_of, _, _ = world
    neighbours = expected_neighbours(_person_pairs(tx, person_of), top_n=50, alpha=0.7)
    ref_ts = int(tx.ts.max()) + 86400
    buyers = sorted(set(tx.customer_id))
    people = [c for c in buyers if len(person_of.get(c, (c,))) > 1][:5] + [c for c in buyers if len(person_of.get(c, (c,))) == 1][:5]
    for settings in [TABLE, replace(TABLE, item_seeds=2, max_reasons=2, candidates=7)]:
        for cid in people:
            history = _history(tx, set(person_of.get(cid, (cid,))))
            want = expected_table_recommendations(
                neighbours, history, k=10, ref_ts=ref_ts, half_life_days=settings.half_life_days,
                item_seeds=settings.item_seeds, max_reasons=settings.max_reasons, candidates=settings.candidates,
            )
            got = recommend(graph, cid, k=10, now=ref_ts, settings=settings)
            assert [g["product_id"] for g in got] == [w["product_id"] for w in want], cid
            assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], rel=1e-9, abs=1e-9)
            assert [g["reasons"] for g in got] == [w["reasons"] for w in want]
            assert all(g["source"] == "co-purchase" and g["name"] for g in got)
            assert not set(history) & {g["product_id"] for g in got}


def test_auto_walk_uses_the_table_only_when_built(server, tmp_path_factory):
    for graph, tx, person_of, _ in generated_world(server, tmp_path_factory, "auto", customers=200, seed=8):
        cid = sorted(set(tx.customer_id))[0]
        ref_ts = int(tx.ts.max()) + 86400
        auto = replace(DEFAULTS, lookalike_weight=0.0)
        live = expected_recommendations(tx, set(person_of.get(cid, (cid,))), 10, ref_ts, auto)
        assert [r["product_id"] for r in recommend(graph, cid, now=ref_ts, settings=auto)] == [r["product_id"] for r in live]
        build_item_neighbours(graph)  # clears this process's cache of "is there a build"
        neighbours = expected_neighbours(_person_pairs(tx, person_of), top_n=50, alpha=0.7)
        want = expected_table_recommendations(neighbours, _history(tx, set(person_of.get(cid, (cid,)))), k=10, ref_ts=ref_ts,
                                              half_life_days=180.0, item_seeds=50, max_reasons=5, candidates=300)
        assert [r["product_id"] for r in recommend(graph, cid, now=ref_ts, settings=auto)] == [w["product_id"] for w in want]


def test_rebuild_replaces_the_set_and_keeps_evaluation_sets(world):
    graph, tx, person_of, _, first = world
    ev = build_item_neighbours(graph, before_ts=int(tx.ts.quantile(0.5)), evaluation=True)
    assert ev["build"].startswith(q.EVAL_PREFIX) and current_build(graph)["build"] == first["build"]
    second = build_item_neighbours(graph, top_n=3)
    try:
        builds = {}
        for r in graph.read(EDGES):
            builds[r["build"]] = builds.get(r["build"], 0) + 1
        assert builds == {second["build"]: second["edges"], ev["build"]: ev["edges"]}
        assert second["replaced_edges"] == first["edges"] and current_build(graph)["top_n"] == 3
        assert drop_build(graph, ev["build"]) == ev["edges"]
    finally:
        build_item_neighbours(graph)  # restore the module's default set for the other tests


def _edge_counts(graph) -> dict[str, int]:
    builds: dict[str, int] = {}
    for r in graph.read(EDGES):
        builds[r["build"]] = builds.get(r["build"], 0) + 1
    return builds


def test_overlapping_builds_the_one_started_last_wins(world, monkeypatch):
    import analytics.item_neighbours_build as builder

    graph, *_ = world
    # a build started after the next one, still writing its edges
    later = new_build_id(time.time() + 3600)
    graph.write(q.WRITE_BOUGHT_WITH, {"rows": [{"a": "p-0001", "b": ["p-0002"], "s": [0.5], "n": [1]}], "build": later})
    try:
        now = build_item_neighbours(graph)
        assert now["superseded_by"] is None and current_build(graph)["build"] == now["build"]
        assert _edge_counts(graph) == {now["build"]: now["edges"], later: 1}  # the later one's edges are kept
        # a build started before the current one, finishing after it: it must not take over
        monkeypatch.setattr(builder, "new_build_id", lambda: new_build_id(time.time() - 3600))
        old = build_item_neighbours(graph, top_n=3)
        assert old["superseded_by"] == now["build"] and old["build"] < now["build"]
        assert current_build(graph)["build"] == now["build"] and current_build(graph)["top_n"] == 50
        assert _edge_counts(graph) == {now["build"]: now["edges"], later: 1}
    finally:
        drop_build(graph, later)
        monkeypatch.undo()
        build_item_neighbours(graph)


def test_build_ids_order_like_start_times():
    ids = [new_build_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50  # back to back, within one second
    assert new_build_id(1_700_000_000.5) > "b-1700000000-ffffffff"  # after the older form of that second
    assert new_build_id(1_700_000_001) > new_build_id(1_700_000_000.999)


def test_evaluation_set_sees_only_purchases_before_its_cutoff(world):
    graph, tx, person_of, _, _ = world
    cutoff = int(tx.ts.quantile(0.6))
    ev = build_item_neighbours(graph, before_ts=cutoff, evaluation=True)
    try:
        want = expected_neighbours(_person_pairs(tx[tx.ts < cutoff], person_of), top_n=50, alpha=0.7)
        rows = [r for r in graph.read(EDGES) if r["build"] == ev["build"]]
        assert len(rows) == sum(len(v) for v in want.values())
        assert {(r["a"], r["b"]) for r in rows} == {(p, o) for p, v in want.items() for o, _, _ in v}
        cid = sorted(set(tx[tx.ts < cutoff].customer_id))[0]
        history = _history(tx, set(person_of.get(cid, (cid,))), before=cutoff)
        expect = expected_table_recommendations(want, history, k=10, ref_ts=cutoff, half_life_days=180.0,
                                                item_seeds=50, max_reasons=5, candidates=300)
        got = recommend(graph, cid, before_ts=cutoff, item_build=ev["build"], settings=TABLE)
        assert [g["product_id"] for g in got] == [w["product_id"] for w in expect]
    finally:
        drop_build(graph, ev["build"])


def test_interrupted_evaluation_sets_are_cleaned_later(world):
    graph, *_ = world
    old = new_eval_build_id(time.time() - 7 * 3600)
    graph.write(q.WRITE_BOUGHT_WITH, {"rows": [{"a": "p-0001", "b": ["p-0002"], "s": [0.5], "n": [1]}], "build": old})
    assert any(r["build"] == old for r in graph.read(EDGES))
    ev = build_item_neighbours(graph, evaluation=True)
    drop_build(graph, ev["build"])
    assert not any(r["build"] in (old, ev["build"]) for r in graph.read(EDGES))


def test_person_pairs_count_a_person_once(world):
    graph, tx, person_of, _, _ = world
    pairs = purchase_pairs(graph)
    want = {(person_of.get(c, (c,))[0], p) for c, p in zip(tx.customer_id, tx.product_id)}
    assert len(pairs) == len(want)
    # buyer ids differ (graph: person id, reference: first account), so compare the grouping
    sizes = sorted(pairs.groupby("buyer").size().tolist())
    assert sizes == sorted(pd.Series([b for b, _ in want]).value_counts().tolist())


def test_cli_item_neighbours(world, monkeypatch, cli_env):
    from cli.main import app

    graph, *_ = world
    monkeypatch.setenv("C360_GRAPH_NAME", graph.graph_name)
    try:
        out = CliRunner().invoke(app, ["item-neighbours", "--top", "4", "--format", "json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.stdout)
        assert current_build(graph)["build"] == data["build"] and data["edges"] == len(graph.read(EDGES))
        table = CliRunner().invoke(app, ["item-neighbours"])
        assert table.exit_code == 0 and "BOUGHT_WITH" in table.stdout
        bad = CliRunner().invoke(app, ["item-neighbours", "--alpha", "2"])
        assert bad.exit_code != 0 and "Traceback" not in bad.output
    finally:
        clear_item_neighbours_cache()
        build_item_neighbours(graph)
