"""Fit CLV and RFM on the graph's transactions, per person, and write the scores back.

Glue between the graph (``queries.scores``) and the pure models (``analytics.clv``,
``analytics.rfm``): accounts linked to one Person are merged into one customer, because the
same person buying in the web shop and in a store is one buyer. An account without a Person
is its own customer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from analytics.clv import score_customers
from analytics.rfm import rfm_scores
from graph.backend import GraphBackend
from graph.errors import InputError
from queries.scores import clear_stale_scores, transactions_frame, write_scores

__all__ = ["ValueFit", "fit_value_scores", "score_frame"]


@dataclass
class ValueFit:
    """What ``c360 clv fit`` did: fitted parameters, counts and timings (seconds)."""

    params: dict[str, dict[str, float]]
    persons_scored: int
    accounts_scored: int
    transactions: int
    calibration_end: str | None
    rfm_as_of: str
    scored_at: str
    timings: dict[str, float] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score_frame(
    tx: pd.DataFrame,
    *,
    calibration_end: Any = None,
    horizon_months: int = 12,
    discount_rate_monthly: float = 0.01,
    entity_col: str = "entity",
) -> tuple[pd.DataFrame, dict[str, dict[str, float]], pd.Timestamp]:
    """CLV and RFM per ``entity_col`` from transaction lines; returns (scores, params, rfm as_of).

    ``scores`` is indexed by entity with ``clv, p_alive, churn_risk, expected_purchases,
    expected_aov, rfm_r, rfm_f, rfm_m, rfm, rfm_segment`` (CLV columns NaN for an entity the
    CLV model leaves out, e.g. one whose first purchase is after ``calibration_end``).
    RFM is computed as of ``calibration_end`` when given, else as of the last transaction.
    """
    clv_df, params = score_customers(
        tx, calibration_end=calibration_end, horizon_months=horizon_months,
        discount_rate_monthly=discount_rate_monthly, customer_col=entity_col,
        date_col="occurred_at", amount_col="amount",
    )
    if calibration_end is not None:
        as_of = pd.Timestamp(calibration_end)
        if as_of.tzinfo is not None:
            as_of = as_of.tz_convert("UTC").tz_localize(None)
        as_of = as_of.normalize() + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)  # the whole day counts
    else:
        as_of = pd.Timestamp(tx["occurred_at"].max())
    rfm = rfm_scores(tx, as_of=as_of, customer_col=entity_col, date_col="occurred_at", amount_col="amount")
    out = clv_df[["clv", "p_alive", "churn_risk", "expected_purchases", "expected_aov"]].join(
        rfm[["R", "F", "M", "rfm", "segment"]].rename(
            columns={"R": "rfm_r", "F": "rfm_f", "M": "rfm_m", "segment": "rfm_segment"}
        ),
        how="outer",
    )
    return out, params, as_of


def fit_value_scores(
    graph: GraphBackend,
    *,
    calibration_end: Any = None,
    horizon_months: int = 12,
    discount_rate_monthly: float = 0.01,
    page_size: int = 25_000,
    batch_size: int = 5000,
    now: datetime | None = None,
) -> ValueFit:
    """Pull transactions, fit BG/NBD + Gamma-Gamma and RFM per person, write scores back.

    Every linked Customer gets its person's scores too, so a view of any account reads them
    with a key lookup. Nodes a previous fit scored but this one did not are cleared.
    Raises :class:`graph.errors.InputError` when the data cannot support a fit (see
    ``analytics.clv``).
    """
    if horizon_months < 1:
        raise InputError("horizon must be at least one month")
    if not 0.0 <= discount_rate_monthly < 1.0:
        raise InputError("discount rate must be in [0, 1) per month")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tx, person_of = transactions_frame(graph, page_size=page_size)
    timings["read"] = time.perf_counter() - t0
    if tx.empty:
        raise InputError("no transactions in the graph: load transactions.csv first")
    tx["entity"] = tx["person_id"].where(tx["person_id"].notna(), tx["customer_id"])

    t1 = time.perf_counter()
    scores, params, as_of = score_frame(
        tx, calibration_end=calibration_end, horizon_months=horizon_months,
        discount_rate_monthly=discount_rate_monthly,
    )
    timings["fit"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    stamp = (now or datetime.now(tz=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    columns = list(scores.columns)
    by_entity: dict[str, dict[str, Any]] = {}
    for entity, values in zip(scores.index, scores.itertuples(index=False, name=None)):
        props = {c: _plain(v) for c, v in zip(columns, values)}
        props["scored_at"] = stamp
        by_entity[str(entity)] = props
    person_ids = {pid for pid in person_of.values() if pid}
    persons = {e: p for e, p in by_entity.items() if e in person_ids}
    unlinked = {cid: by_entity[cid] for cid, pid in person_of.items() if not pid and cid in by_entity}
    accounts_scored = len(unlinked) + sum(1 for pid in person_of.values() if pid and pid in by_entity)
    write_scores(graph, persons=persons, customers=unlinked, batch_size=batch_size)
    clear_stale_scores(graph, scored_at=stamp)
    timings["write"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    cal = None if calibration_end is None else pd.Timestamp(calibration_end).date().isoformat()
    return ValueFit(
        params=params,
        persons_scored=len(by_entity),
        accounts_scored=accounts_scored,
        transactions=len(tx),
        calibration_end=cal,
        rfm_as_of=as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        scored_at=stamp,
        timings=timings,
    )
