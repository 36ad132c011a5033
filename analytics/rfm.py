"""RFM (recency, frequency, monetary) scores and named segments from transaction lines.

Scores are 1..``bins`` by quantile rank, higher is better (recency: more recent is higher):
``pd.qcut(values.rank(method="first"), bins)``. Ties are broken deterministically: customers
are sorted by id first, so equal values split across bins in customer-id order. The segment names follow the
common R/F-grid mapping described in ``docs/clv.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from graph.errors import InputError

__all__ = ["rfm_scores", "rfm_segment", "SEGMENTS"]

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Cannot lose them",
    "Hibernating",
    "Lost",
)


def rfm_segment(r: int, f: int, m: int) -> str:
    """Segment name for scores on the 1..5 scale (m only lifts 'Cannot lose them').

    The grid (r = recency score, f = frequency score):

    * Champions: r >= 4 and f >= 4            * Loyal: r == 3 and f >= 4, or r >= 4, f == 3
    * Potential loyalist: r >= 4, f == 2      * New: r == 5, f == 1
    * Promising: r == 4, f == 1               * Need attention: r == 3, f == 3
    * About to sleep: r == 3, f <= 2          * Cannot lose them: r <= 2, f == 5 or m == 5
    * At risk: r <= 2, f >= 3                 * Hibernating: r == 2, f <= 2
    * Lost: r == 1, f <= 2
    """
    for name, v in (("r", r), ("f", f), ("m", m)):
        if not 1 <= int(v) <= 5:
            raise InputError(f"RFM score {name}={v} is outside 1..5")
    r, f, m = int(r), int(f), int(m)
    if r >= 4:
        if f >= 4:
            return "Champions"
        if f == 3:
            return "Loyal"
        if f == 2:
            return "Potential loyalist"
        return "New" if r == 5 else "Promising"
    if r == 3:
        if f >= 4:
            return "Loyal"
        return "Need attention" if f == 3 else "About to sleep"
    # r <= 2
    if f == 5 or (f >= 3 and m == 5):
        return "Cannot lose them"
    if f >= 3:
        return "At risk"
    return "Hibernating" if r == 2 else "Lost"


def _score(values: pd.Series, bins: int) -> np.ndarray:
    """1..bins: ``pd.qcut`` of ``rank(method="first")`` into equal-frequency bins.

    Ranks are unique, so ties never collapse bins; a lone customer gets the middle score.
    """
    if len(values) == 1:
        return np.array([(bins + 1) // 2])
    ranks = values.rank(method="first")
    return pd.qcut(ranks, bins, labels=False).to_numpy().astype(int) + 1


def rfm_scores(
    tx: pd.DataFrame,
    *,
    as_of: Any,
    customer_col: str = "customer_id",
    date_col: str = "occurred_at",
    amount_col: str = "amount",
    bins: int = 5,
) -> pd.DataFrame:
    """Per-customer RFM table from transaction lines up to ``as_of`` (inclusive).

    Returns a DataFrame indexed by customer (sorted) with ``recency_days`` (days from the
    last transaction to ``as_of``), ``frequency`` (distinct ``order_id`` when that column is
    present, else distinct ``transaction_id``, else rows), ``monetary`` (sum of amounts,
    refunds included), scores ``R``, ``F``, ``M`` in 1..bins, ``rfm`` (e.g. ``"545"``) and
    ``segment`` (``rfm_segment``; only defined for bins=5, else None).
    """
    for c in (customer_col, date_col, amount_col):
        if c not in tx.columns:
            raise InputError(f"transactions: missing column {c}")
    if not 2 <= bins <= 9:
        raise InputError("bins must be between 2 and 9")
    try:
        if pd.api.types.is_datetime64_any_dtype(tx[date_col]):
            when = pd.to_datetime(tx[date_col], utc=True)
        else:
            when = pd.to_datetime(tx[date_col], utc=True, format="ISO8601")
        ref = pd.Timestamp(as_of)
    except (ValueError, TypeError) as e:
        raise InputError(f"{date_col}/as_of: cannot parse as ISO 8601 ({e})") from e
    when = when.dt.tz_localize(None)  # naive UTC
    ref = ref if ref.tzinfo is None else ref.tz_convert("UTC").tz_localize(None)
    if when.isna().any():
        raise InputError(f"{date_col}: missing or unparsable dates")
    amount = pd.to_numeric(tx[amount_col], errors="coerce")
    if amount.isna().any():
        raise InputError(f"{amount_col}: missing or non-numeric amounts")
    order_col = next((c for c in ("order_id", "transaction_id") if c in tx.columns), None)
    df = pd.DataFrame({"c": tx[customer_col].to_numpy(), "t": when.to_numpy(),
                       "a": amount.to_numpy(dtype=float)})
    if order_col is not None:
        # a line without an order id is its own order
        oid = tx[order_col].astype("string")
        df["o"] = oid.fillna("row-" + pd.Series(np.arange(len(tx)), index=tx.index).astype(str)).to_numpy()
    else:
        df["o"] = np.arange(len(tx))
    df = df[df["t"] <= ref]
    if df.empty:
        raise InputError("no transactions on or before as_of")
    g = df.groupby("c", sort=True)
    out = pd.DataFrame({
        "recency_days": (ref - g["t"].max()).dt.total_seconds() / 86400.0,
        "frequency": g["o"].nunique().astype("int64"),
        "monetary": g["a"].sum(),
    })
    out.index.name = customer_col
    out["R"] = _score(-out["recency_days"], bins)
    out["F"] = _score(out["frequency"].astype(float), bins)
    out["M"] = _score(out["monetary"], bins)
    out["rfm"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    if bins == 5:
        out["segment"] = [rfm_segment(r, f, m) for r, f, m in zip(out["R"], out["F"], out["M"])]
    else:
        out["segment"] = None
    return out
