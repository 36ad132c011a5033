"""Offline evaluation of recommendations: hide the last days of purchases, recommend, compare.

Temporal hold-out: the cutoff is the latest purchase minus ``holdout_days``. For each sampled
person who bought a product *new to them* at or after the cutoff, recommendations are made
from purchases before the cutoff only (``before_ts``; no data is deleted) and compared with
those new products. A popularity baseline (most-bought products before the cutoff that the
person does not own) is scored in the same run on the same people.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from graph.backend import GraphBackend
from graph.errors import InputError, NotFoundError
from queries.recommend import (
    CATALOGUE_SIZE,
    DEFAULTS,
    EVAL_LAST_PURCHASE,
    EVAL_RECENT_BUYERS,
    RecommendSettings,
    person_accounts,
    product_popularity,
    purchase_history,
    recommend,
)

__all__ = ["evaluate_recommendations", "popularity_ranking", "summary_rows"]


def popularity_ranking(popularity: dict[str, dict[str, Any]]) -> list[str]:
    """Product ids, most distinct buyers first (ties by product id)."""
    return sorted(popularity, key=lambda pid: (-popularity[pid]["buyers"], pid))


def _metrics(hits: list[int], k: int, recommended: set[str], catalogue: int) -> dict[str, float]:
    n = len(hits)
    return {
        "hit_rate": sum(1 for h in hits if h > 0) / n if n else 0.0,
        "precision": sum(hits) / (n * k) if n else 0.0,
        "coverage": len(recommended) / catalogue if catalogue else 0.0,
    }


def evaluate_recommendations(
    graph: GraphBackend,
    *,
    holdout_days: int = 30,
    sample: int = 500,
    k: int = 10,
    seed: int = 0,
    lookalike: bool = False,
    settings: RecommendSettings = DEFAULTS,
) -> dict[str, Any]:
    """Hit rate@k, precision@k and coverage of :func:`queries.recommend.recommend` and of a popularity baseline.

    Parameters
    ----------
    holdout_days : the last days of purchases to hide.
    sample : at most this many people are evaluated (a seeded random sample).
    k : list length.
    lookalike : also blend ``SIMILAR_TO`` neighbours. Off by default: those edges are computed
        from all purchases, including the hidden ones, so they would leak the answer.

    Returns
    -------
    dict with ``cutoff``, ``evaluated`` (people), ``model`` and ``popularity`` (each
    ``{hit_rate, precision, coverage}``), ``lift`` (model hit rate / popularity hit rate),
    ``latency_ms`` (p50/p90 of one recommendation) and ``seconds``.
    """
    if holdout_days < 1:
        raise InputError("holdout days must be at least 1")
    if sample < 1:
        raise InputError("sample must be at least 1")
    if not 1 <= k <= 100:
        raise InputError("k must be between 1 and 100")
    started = time.perf_counter()
    last = graph.read(EVAL_LAST_PURCHASE)
    if not last or last[0]["last_ts"] is None:
        raise NotFoundError("no purchases in the graph to evaluate on")
    cutoff = int(last[0]["last_ts"]) - int(holdout_days) * 86400
    buyers = graph.read(EVAL_RECENT_BUYERS, {"cutoff": cutoff})
    rng = random.Random(seed)
    order = [b["customer_id"] for b in buyers]
    rng.shuffle(order)
    catalogue = int(graph.read(CATALOGUE_SIZE)[0]["products"])
    popularity = product_popularity(graph, before_ts=cutoff)
    ranking = popularity_ranking(popularity)
    cfg = settings if lookalike else replace(settings, lookalike_weight=0.0)

    model_hits: list[int] = []
    base_hits: list[int] = []
    model_items: set[str] = set()
    base_items: set[str] = set()
    latencies: list[float] = []
    for customer_id in order:
        if len(model_hits) >= sample:
            break
        history = purchase_history(graph, person_accounts(graph, customer_id))
        before = {h["product_id"] for h in history if h["first_ts"] < cutoff}
        new = {h["product_id"] for h in history if h["first_ts"] >= cutoff}
        if not before or not new:
            continue
        t0 = time.perf_counter()
        recs = [r["product_id"] for r in recommend(graph, customer_id, k=k, before_ts=cutoff, settings=cfg)]
        latencies.append((time.perf_counter() - t0) * 1000.0)
        base = [pid for pid in ranking if pid not in before][:k]
        model_hits.append(len(new.intersection(recs)))
        base_hits.append(len(new.intersection(base)))
        model_items.update(recs)
        base_items.update(base)

    model = _metrics(model_hits, k, model_items, catalogue)
    baseline = _metrics(base_hits, k, base_items, catalogue)
    lift = model["hit_rate"] / baseline["hit_rate"] if baseline["hit_rate"] > 0 else None
    latencies.sort()
    return {
        "holdout_days": int(holdout_days),
        "cutoff": datetime.fromtimestamp(cutoff, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "k": k,
        "candidates": len(order),
        "evaluated": len(model_hits),
        "catalogue": catalogue,
        "model": model,
        "popularity": baseline,
        "lift": lift,
        "latency_ms": {
            "p50": statistics.median(latencies) if latencies else None,
            "p90": latencies[int(0.9 * (len(latencies) - 1))] if latencies else None,
        },
        "seconds": time.perf_counter() - started,
    }


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as two table rows (model and baseline) for the CLI."""
    k = report["k"]
    rows = []
    for name, key in [("neighbours (co-purchase)", "model"), ("popularity baseline", "popularity")]:
        m = report[key]
        rows.append({"recommender": name, f"hit_rate@{k}": m["hit_rate"], f"precision@{k}": m["precision"],
                     "coverage": m["coverage"], "evaluated": report["evaluated"]})
    return rows
