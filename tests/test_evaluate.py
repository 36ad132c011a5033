"""Offline evaluation: metrics recomputed in pandas on the same rows, and the lift on planted communities."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.evaluate import evaluate_recommendations
from graph.errors import InputError, NotFoundError
from queries.recommend import RecommendSettings
from test_recommend import expected_recommendations, generated_world

HOLDOUT = 30
K = 10


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    """1,000 accounts, 200 products, 8 planted taste communities."""
    yield from generated_world(server, tmp_path_factory, "eval", customers=1000, products=200, seed=2)


@pytest.fixture(scope="module")
def report(world):
    graph, *_ = world
    return evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=100_000, k=K)


def _expected(tx: pd.DataFrame, person_of: dict, catalogue: int) -> dict:
    """Hit rate, precision and coverage of the documented recommender and of popularity, from the rows."""
    cutoff = int(tx.ts.max()) - HOLDOUT * 86400
    before = tx[tx.ts < cutoff]
    popularity = before.groupby("product_id").customer_id.nunique()
    ranking = sorted(popularity.index, key=lambda p: (-popularity[p], p))
    persons = sorted({person_of.get(c, (c,)) for c in tx[tx.ts >= cutoff].customer_id})
    model_hits, base_hits, model_items, base_items = [], [], set(), set()
    settings = RecommendSettings()
    for accounts in persons:
        mine = tx[tx.customer_id.isin(accounts)]
        first = mine.groupby("product_id").ts.min()
        owned = set(first[first < cutoff].index)
        new = set(first[first >= cutoff].index)
        if not owned or not new:
            continue
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


def test_metrics_match_an_independent_computation(world, report):
    graph, tx, person_of, _ = world
    catalogue = graph.read("MATCH (p:Product) RETURN count(p) AS n")[0]["n"]
    want = _expected(tx, person_of, catalogue)
    assert report["evaluated"] == want["evaluated"] > 50
    for key in ["model", "popularity"]:
        assert report[key] == pytest.approx(want[key]), key


def test_neighbours_beat_popularity_on_planted_communities(report):
    # measured on this data: 2.16x (hit@10 0.65 against 0.30); knowing each person's true
    # community would give 2.22x here (docs/recommendations.md, "How far from the ceiling")
    assert report["lift"] > 1.5
    assert report["model"]["coverage"] > 3 * report["popularity"]["coverage"]


def test_closer_co_buyers_weigh_more_than_flat_co_buyers(world, report):
    """The shared-products weight of co-buyers is what lifts the hit rate (measured 0.65 against 0.46)."""
    graph, *_ = world
    flat = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=100_000, k=K, settings=RecommendSettings(shared_power=0.0))
    assert flat["evaluated"] == report["evaluated"] and flat["popularity"] == report["popularity"]
    assert report["model"]["hit_rate"] > flat["model"]["hit_rate"] + 0.05


def test_sampling_is_seeded_and_bounded(world):
    graph, *_ = world
    a = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=20, seed=1)
    b = evaluate_recommendations(graph, holdout_days=HOLDOUT, sample=20, seed=1)
    assert a["evaluated"] == 20 and a["model"] == b["model"] and a["popularity"] == b["popularity"]


def test_bad_arguments_and_empty_graph(graph):
    with pytest.raises(InputError):
        evaluate_recommendations(graph, holdout_days=0)
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
