"""RFM scores against an independent pandas computation on a small hand-made frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.rfm import SEGMENTS, rfm_scores, rfm_segment
from graph.errors import InputError


@pytest.fixture
def tx():
    rows = [
        # customer, order, date, amount
        ("c1", "o1", "2024-06-28", 100.0), ("c1", "o1", "2024-06-28", 50.0),
        ("c1", "o2", "2024-05-01", 80.0), ("c1", "o3", "2024-04-01", 20.0),
        ("c2", "o4", "2024-01-10", 500.0), ("c2", "o5", "2024-02-10", 300.0),
        ("c3", "o6", "2023-06-01", 10.0),
        ("c4", "o7", "2024-06-20", 30.0), ("c4", "o8", "2024-06-25", -30.0),
        ("c5", "o9", "2024-03-15", 60.0), ("c5", "o10", "2024-03-16", 60.0),
        ("c5", "o11", "2024-03-17", 60.0), ("c5", "o12", "2024-03-18", 60.0),
        ("c6", "o13", "2024-07-15", 999.0),  # after as_of: ignored
        ("c7", "o14", "2022-01-01", 5.0),
        ("c8", "o15", "2024-06-29", 15.0),
        ("c9", "o16", "2023-12-01", 40.0), ("c9", "o17", "2024-01-01", 45.0),
        ("c10", "o18", "2024-05-30", 70.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "order_id", "occurred_at", "amount"])
    df["transaction_id"] = [f"t{i}" for i in range(len(df))]
    return df


def _independent(tx, as_of):
    d = tx[pd.to_datetime(tx["occurred_at"]) <= pd.Timestamp(as_of)]
    per = d.groupby("customer_id").agg(last=("occurred_at", "max"),
                                       frequency=("order_id", "nunique"),
                                       monetary=("amount", "sum"))
    per["recency_days"] = (pd.Timestamp(as_of) - pd.to_datetime(per["last"])).dt.days
    per = per.sort_index()

    def score(s):
        # quintile of the rank, ties in customer-id order
        ranks = s.rank(method="first")
        return pd.qcut(ranks, 5, labels=[1, 2, 3, 4, 5]).astype(int)

    per["R"] = score(-per["recency_days"])
    per["F"] = score(per["frequency"])
    per["M"] = score(per["monetary"])
    return per


def test_rfm_matches_independent_pandas(tx):
    got = rfm_scores(tx, as_of="2024-06-30")
    exp = _independent(tx, "2024-06-30")
    assert list(got.index) == list(exp.index)
    assert "c6" not in got.index
    assert np.allclose(got["recency_days"], exp["recency_days"])
    assert (got["frequency"] == exp["frequency"]).all()
    assert np.allclose(got["monetary"], exp["monetary"])
    for c in "RFM":
        assert (got[c] == exp[c]).all(), c
    assert (got["rfm"] == exp["R"].astype(str) + exp["F"].astype(str) + exp["M"].astype(str)).all()
    assert got.loc["c1", "frequency"] == 3  # two lines of order o1 are one order
    assert got.loc["c4", "monetary"] == 0.0  # refund nets out


def test_frequency_falls_back_to_transaction_id(tx):
    got = rfm_scores(tx.drop(columns="order_id"), as_of="2024-06-30")
    assert got.loc["c1", "frequency"] == 4


def test_scores_are_balanced_and_ordered(tx):
    got = rfm_scores(tx, as_of="2024-06-30")
    assert sorted(got["R"].value_counts().tolist()) == [1, 2, 2, 2, 2]  # 9 customers
    most_recent = got["recency_days"].idxmin()
    assert got.loc[most_recent, "R"] == 5
    assert got.loc[got["monetary"].idxmax(), "M"] == 5


def test_segment_mapping():
    assert rfm_segment(5, 5, 5) == "Champions"
    assert rfm_segment(4, 4, 1) == "Champions"
    assert rfm_segment(3, 5, 3) == "Loyal"
    assert rfm_segment(5, 2, 2) == "Potential loyalist"
    assert rfm_segment(5, 1, 1) == "New"
    assert rfm_segment(1, 5, 5) == "Cannot lose them"
    assert rfm_segment(2, 4, 2) == "At risk"
    assert rfm_segment(2, 1, 1) == "Hibernating"
    assert rfm_segment(1, 1, 1) == "Lost"
    every = {rfm_segment(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert every <= set(SEGMENTS)
    with pytest.raises(InputError):
        rfm_segment(0, 3, 3)


def test_segments_in_table(tx):
    got = rfm_scores(tx, as_of="2024-06-30")
    assert [rfm_segment(*v) for v in got[["R", "F", "M"]].itertuples(index=False)] == list(got["segment"])


def test_bad_input(tx):
    with pytest.raises(InputError):
        rfm_scores(tx.drop(columns="amount"), as_of="2024-06-30")
    with pytest.raises(InputError):
        rfm_scores(tx, as_of="2000-01-01")
