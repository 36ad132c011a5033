"""Offline evaluation: metrics recomputed in pandas on the same rows, and the lift on planted communities."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.evaluate import evaluate_recommendations
from graph.errors import InputError, NotFoundError
from queries.recommend import RecommendSettings
from support.item_reference import expected_neighbours, expected_table_recommendations
from support.recommend_reference import expected_recommendations, generated_world

HOLDOUT = 30
K = 10


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    """1,000 accounts, 200 products, 8 planted taste communities."""
    yield from generated_world(server, tmp_path_factory, "eval", customers=1000, products=200, seed=2)


@pytest.fixture(scope="module")
def report(world):
    """The default: the table walk, on item neighbours built from the purchases before the cutoff."""
    graph, *_ = world
    return evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=100_000, k=K)


@pytest.fixture(scope="module")
def live_report(world):
    graph, *_ = world
    return evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=100_000, k=K, walk="live")


def _expected(tx: pd.DataFrame, person_of: dict, catalogue: int, walk: str) -> dict:
    """Hit rate, precision and coverage of the documented recommender and of popularity, from the rows."""
    cutoff = int(tx.ts.max()) - HOLDOUT * 86400
    before = tx[tx.ts < cutoff]
    popularity = before.groupby("product_id").customer_id.nunique()
    ranking = sorted(popularity.index, key=lambda p: (-popularity[p], p))
    persons = sorted({person_of.get(c, (c,)) for c in tx[tx.ts >= cutoff].customer_id})
    model_hits, base_hits, model_items, base_items = [], [], set(), set()
    settings = RecommendSettings()
    pairs = [(person_of.get(c, (c,))[0], p) for c, p in zip(before.customer_id, before.product_id)]
    neighbours = expected_neighbours(pairs, top_n=50, alpha=0.7)
    for accounts in persons:
        mine = tx[tx.customer_id.isin(accounts)]
        first = mine.groupby("product_id").ts.min()
        owned = set(first[first < cutoff].index)
        new = set(first[first >= cutoff].index)
        if not owned or not new:
            continue
        if walk == "table":
            history = {p: int(t) for p, t in mine[mine.ts < cutoff].groupby("product_id").ts.max().items()}
            recs = [r["product_id"] for r in expected_table_recommendations(
                neighbours, history, k=K, ref_ts=cutoff, half_life_days=settings.half_life_days,
                item_seeds=settings.item_seeds, max_reasons=settings.max_reasons, candidates=settings.candidates)]
        else:
            recs = [r["product_id"] for r in expected_recommendations(before, set(accounts), K, cutoff, settings)]
        base = [p for p in ranking if p not in owned][:K]
        model_hits.append(len(new & set(recs)))
        base_hits.append(len(new & set(base)))
        model_items |= set(recs)
        base_items |= set(base)

    def metrics(hits, items):
        return {"hit_rate": sum(h > 0 for h in hits) / len(hits), "precision": sum(hits) / (len(hits) * K),
                "coverage": len(items) / catalogue}

    return {"evaluated": len(model_hits), "model": metrics(model_hits, model_items), "popularity": metrics(base_hits, base_items)}


@pytest.mark.parametrize("walk", ["table", "live"])
def test_metrics_match_an_independent_computation(world, report, live_report, walk):
    graph, tx, person_of, _ = world
    catalogue = graph.read("MATCH (p:Product) RETURN count(p) AS n")[0]["n"]
    want = _expected(tx, person_of, catalogue, walk)
    got = report if walk == "table" else live_report
    assert got["walk"] == walk and got["evaluated"] == want["evaluated"] > 50
    for key in ["model", "popularity"]:
        assert got[key] == pytest.approx(want[key]), key


def test_evaluation_removes_its_neighbour_set_and_keeps_the_current_one(world, report):
    from analytics.item_neighbours_build import build_item_neighbours, current_build

    graph, *_ = world
    served = build_item_neighbours(graph)
    edges = "MATCH (:Product)-[n:BOUGHT_WITH]->(:Product) RETURN n.build AS build, count(n) AS n"
    before = graph.read(edges)
    again = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=100_000, k=K)
    assert again["model"] == report["model"] and again["build_seconds"] > 0  # the stored set was not used
    assert graph.read(edges) == before == [{"build": served["build"], "n": served["edges"]}]
    assert current_build(graph)["build"] == served["build"]


def test_neighbours_beat_popularity_on_planted_communities(report):
    # measured on this data: 2.16x (hit@10 0.65 against 0.30); knowing each person's true
    # community would give 2.22x here (docs/recommendations.md, "How far from the ceiling")
    assert report["lift"] > 1.5
    assert report["model"]["coverage"] > 3 * report["popularity"]["coverage"]


def test_hit_rate_target_on_planted_communities(server, tmp_path):
    """The issue's target, 3x popularity's hit rate@10 on planted taste communities, on the planting
    the benchmark uses (strength 0.9), and within 5 % of the told-the-community ceiling; the
    ceiling, its people and the baseline are computed in pandas from the files (benchmarks/taste.py)."""
    from benchmarks.taste import evaluate_planted
    from conftest import new_backend
    from graph.schema import apply_schema

    def open_graph():
        graph = new_backend(server)
        apply_schema(graph)
        return graph

    got = evaluate_planted(open_graph, tmp_path / "data", tmp_path / "report", customers=3000, taste_strength=0.9, seed=1)
    ceiling = got["ceiling"]
    assert got["evaluated"] == ceiling["people"] > 150
    assert got["popularity"]["hit_rate"] == pytest.approx(ceiling["popularity"])
    assert got["lift"] >= 3.0
    assert got["model"]["hit_rate"] >= 0.95 * ceiling["ceiling"]


def test_closer_co_buyers_weigh_more_than_flat_co_buyers(world, live_report):
    """The shared-products weight of co-buyers is what lifts the live walk's hit rate (measured 0.65 against 0.46)."""
    graph, *_ = world
    flat = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=100_000, k=K, walk="live",
                                    settings=RecommendSettings(shared_power=0.0))
    assert flat["evaluated"] == live_report["evaluated"] and flat["popularity"] == live_report["popularity"]
    assert live_report["model"]["hit_rate"] > flat["model"]["hit_rate"] + 0.05


def test_sampling_is_seeded_and_bounded(world):
    graph, *_ = world
    a = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=20, seed=1)
    b = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=20, seed=1)
    assert a["evaluated"] == 20 and a["model"] == b["model"] and a["popularity"] == b["popularity"]


def test_bad_arguments_and_empty_graph(graph):
    with pytest.raises(InputError):
        evaluate_recommendations(graph, holdout_days=0)
    with pytest.raises(InputError, match="walk"):
        evaluate_recommendations(graph, walk="sideways")
    with pytest.raises(NotFoundError):
        evaluate_recommendations(graph, holdout_days=30)


def test_cli_evaluate_recommendations(world, cli_env, monkeypatch):
    from cli.main import app

    graph, *_ = world
    monkeypatch.setenv("C360_GRAPH_NAME", graph.graph_name)
    out = CliRunner().invoke(app, ["evaluate", "recommendations", "--holdout-days", str(HOLDOUT), "--sample", "30", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["evaluated"] == 30 and 0 <= data["model"]["hit_rate"] <= 1
    table = CliRunner().invoke(app, ["evaluate", "recommendations", "--sample", "10"])
    assert table.exit_code == 0 and "popularity baseline" in table.stdout
    rec = CliRunner().invoke(app, ["recommend", "crm-000001", "--k", "3", "--format", "json"])
    assert rec.exit_code == 0, rec.output
    assert len(json.loads(rec.stdout)) <= 3
