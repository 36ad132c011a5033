"""Louvain segments recover planted groups; descriptions equal a pandas groupby; plots."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from analytics.influence import influence_graph, influence_scores
from analytics.plots import plot_influence
from analytics.segments import NO_SEGMENT, describe_segments, louvain_segments
from analytics.similarity import interaction_matrix, top_k_similar


def _planted_events(groups: int = 4, per: int = 25, products: int = 10, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        for i in range(per):
            for q in rng.choice(products, size=5, replace=False) + g * products:
                rows.append((f"g{g}-{i:02d}", f"p{q:03d}"))
            if rng.random() < 0.2:  # a little cross-group noise
                rows.append((f"g{g}-{i:02d}", f"p{rng.integers(0, groups * products):03d}"))
    df = pd.DataFrame(rows, columns=["customer_id", "product_id"])
    return df.assign(kind="purchase", occurred_at="2024-06-01")


def _purity(assign: pd.DataFrame) -> float:
    truth = assign["customer_id"].str.split("-").str[0]
    counts = pd.crosstab(assign["segment_id"], truth)
    return counts.max(axis=1).sum() / len(assign)


def test_planted_groups_are_recovered():
    m = interaction_matrix(_planted_events())
    similar = top_k_similar(m, k=8, metric="jaccard")
    seg = louvain_segments(similar, seed=0, customers=["lonely"])
    assert seg.loc[seg["customer_id"] == "lonely", "segment_id"].item() == NO_SEGMENT
    found = seg[seg["segment_id"] != NO_SEGMENT]
    assert _purity(found) > 0.9
    assert found["segment_id"].nunique() == 4
    sizes = found["segment_id"].value_counts()
    ordered = sorted(sizes.index)
    assert ordered[0] == "seg-01"
    assert list(sizes[ordered]) == sorted(sizes, reverse=True)  # numbered by size desc


def test_same_seed_same_segments_and_min_size():
    m = interaction_matrix(_planted_events(seed=2))
    similar = top_k_similar(m, k=6)
    a = louvain_segments(similar, seed=3)
    b = louvain_segments(similar.sample(frac=1.0, random_state=0), seed=3)
    pd.testing.assert_frame_equal(a, b)
    big = louvain_segments(similar, seed=3, min_size=10_000)
    assert (big["segment_id"] == NO_SEGMENT).all()


def test_describe_matches_pandas_groupby():
    assign = pd.DataFrame(
        {"customer_id": list("abcdef"), "segment_id": ["seg-01"] * 3 + ["seg-02"] * 2 + [NO_SEGMENT]}
    )
    spend = pd.Series({"a": 10.0, "b": 20.0, "c": 60.0, "d": 5.0, "f": 7.0})  # e has no spend
    churn = pd.Series({"a": 0.1, "b": 0.5, "d": 0.9, "e": 0.3})
    tp = pd.DataFrame(
        [("a", "x", 1.0), ("b", "x", 2.0), ("b", "y", 3.5), ("c", "z", 0.5), ("d", "y", 1.0), ("e", "z", 4.0)],
        columns=["customer_id", "product_id", "weight"],
    )
    out = describe_segments(assign, spend=spend, churn=churn, top_products=tp).set_index("segment_id")

    frame = assign.assign(
        value=assign["customer_id"].map(spend).fillna(0.0), risk=assign["customer_id"].map(churn)
    )
    expected = frame.groupby("segment_id").agg(size=("value", "size"), avg_value=("value", "mean"), churn_risk=("risk", "mean"))
    for seg in expected.index:
        assert out.loc[seg, "size"] == expected.loc[seg, "size"]
        assert out.loc[seg, "avg_value"] == pytest.approx(expected.loc[seg, "avg_value"])
        if pd.isna(expected.loc[seg, "churn_risk"]):
            assert pd.isna(out.loc[seg, "churn_risk"])
        else:
            assert out.loc[seg, "churn_risk"] == pytest.approx(expected.loc[seg, "churn_risk"])
    weights = tp.merge(assign, on="customer_id").groupby(["segment_id", "product_id"])["weight"].sum()
    for seg, products in out["top_products"].items():
        if seg in weights.index.get_level_values(0):
            w = weights[seg]
            assert products == sorted(w.index, key=lambda p: (-w[p], p))
        else:
            assert products == []
    assert "3 customers" in out.loc["seg-01", "description"]
    assert set(out.index) == {"seg-01", "seg-02", NO_SEGMENT}


def test_plot_influence_writes_png(tmp_path):
    edges = pd.DataFrame(
        [("a", "b", "referral"), ("a", "c", "referral"), ("c", "d", "referral"), ("d", "a", "mention")],
        columns=["from_id", "to_id", "kind"],
    )
    G = influence_graph(edges)
    scores = influence_scores(G, revenue={"b": 10.0, "c": 5.0, "d": 2.0})
    out = plot_influence(G, scores, tmp_path / "sub" / "influence.png", top=3)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 1000
    assert nx.is_directed(G)
