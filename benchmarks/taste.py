"""How far from the best possible are the recommendations? The planted-community ceiling.

The generator draws each purchase from the buyer's taste community with probability
``taste_strength`` and from overall popularity otherwise, independently of everything else
the person did. So no recommender that learns tastes from the data can beat, in expectation,
one that is *told* each person's community (``truth.json``) and recommends that community's
most bought products before the cutoff that the person does not own. Its hit rate is the
ceiling the benchmark reports beside the model's, for the same hold-out and population.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ceiling_hit_rate", "evaluate_planted", "valid_purchases"]


def valid_purchases(folder: Path, malformed: list[dict[str, Any]]) -> pd.DataFrame:
    """Purchase lines the loader keeps (planted ``malformed`` rows of the generator's truth and
    exact duplicates dropped): ``customer_id, product_id, ts`` (epoch seconds)."""
    df = pd.read_csv(folder / "transactions.csv", dtype=str, keep_default_na=False)
    bad = {m["row"] for m in malformed if m["file"] == "transactions.csv"}
    df = df[[i + 1 not in bad for i in range(len(df))]].drop_duplicates()
    df = df[df.product_id != ""]
    stamps = pd.to_datetime(df.occurred_at, utc=True, format="ISO8601")
    ts = (stamps - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    return pd.DataFrame({"customer_id": df.customer_id.to_numpy(), "product_id": df.product_id.to_numpy(), "ts": ts.to_numpy()})


def ceiling_hit_rate(folder: Path, *, holdout_days: int = 30, k: int = 10) -> dict[str, float]:
    """Hit rate@k of the told-the-community recommender and of the popularity baseline, on a
    generated folder, over the same people: ``{ceiling, popularity, lift, people}``.

    People are all those who bought something before the cutoff and a product new to them after
    it, as in :func:`analytics.evaluate.evaluate_recommendations` (persons from ``truth.json``);
    the baseline is the same (most distinct buying accounts before the cutoff, ties by id).
    """
    truth = json.loads((folder / "truth.json").read_text())
    tx = valid_purchases(folder, truth["malformed"])
    person_of = {a: p for p, accounts in truth["persons"].items() for a in accounts}
    tx["person"] = tx.customer_id.map(lambda a: person_of.get(a, a))
    tx["community"] = tx.customer_id.map(truth["community_of"])
    cutoff = int(tx.ts.max()) - holdout_days * 86400
    first = tx.groupby(["person", "product_id"]).ts.min().reset_index()
    owned = first[first.ts < cutoff].groupby("person").product_id.apply(set).to_dict()
    new = first[first.ts >= cutoff].groupby("person").product_id.apply(set).to_dict()
    community = tx.groupby("person").community.first().to_dict()
    before = tx[tx.ts < cutoff]
    ranking = {
        c: g.groupby("product_id").customer_id.nunique().sort_values(ascending=False, kind="stable").index.tolist()
        for c, g in before.groupby("community")
    }
    buyers = before.groupby("product_id").customer_id.nunique()
    popular = sorted(buyers.index, key=lambda q: (-buyers[q], q))
    people = [p for p in new if owned.get(p)]
    hits = base = 0
    for p in people:
        top = [q for q in ranking.get(community[p], []) if q not in owned[p]][:k]
        hits += bool(new[p].intersection(top))
        base += bool(new[p].intersection([q for q in popular if q not in owned[p]][:k]))
    n = len(people) or 1
    return {"ceiling": hits / n, "popularity": base / n, "lift": hits / base if base else float("nan"), "people": len(people)}


def evaluate_planted(open_graph, folder: Path, report_dir: Path, *, customers: int, taste_strength: float,
                     seed: int = 1, holdout_days: int = 30) -> dict[str, Any]:
    """Generate ``customers`` accounts at ``taste_strength`` into ``folder``, load them into the
    graph ``open_graph()`` gives, evaluate (every eligible person) and compute the ceiling."""
    from analytics.evaluate import evaluate_recommendations
    from loaders.generate import generate
    from loaders.load import load_folder

    generate(folder, customers=customers, products=max(100, customers // 20), seed=seed, taste_strength=taste_strength)
    graph = open_graph()
    try:
        load_folder(graph, folder, report_dir=report_dir)
        report = evaluate_recommendations(graph, holdout_days=holdout_days, sample=10**9)
    finally:
        graph.drop()
    return {**report, "taste_strength": taste_strength, "ceiling": ceiling_hit_rate(folder, holdout_days=holdout_days)}
