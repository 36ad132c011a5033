"""Offline evaluation of recommendations: hide the last days of purchases, recommend, compare.

Temporal hold-out: the cutoff is the latest purchase minus ``holdout_days``. For each sampled
person who bought a product *new to them* at or after the cutoff, recommendations are made
from purchases before the cutoff only (``before_ts``; no data is deleted) and compared with
those new products. A popularity baseline (most-bought products before the cutoff that the
person does not own) is scored in the same run on the same people.

The default ``walk="table"`` evaluates what the API serves, the stored item neighbours, with a
set built for the run from purchases before the cutoff only (the stored set has seen the
hidden purchases); that set is deleted when the evaluation ends. ``walk="live"`` evaluates
the co-buyer walk instead.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from analytics.item_neighbours_build import build_item_neighbours, drop_build
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
    walk: str = "table",
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
    walk : "table" (item neighbours built for this run from purchases before the cutoff) or
        "live" (the co-buyer walk).

    Returns
    -------
    dict with ``cutoff``, ``evaluated`` (people), ``model`` and ``popularity`` (each
    ``{hit_rate, precision, coverage}``), ``lift`` (model hit rate / popularity hit rate),
    ``latency_ms`` (p50/p90 of one recommendation), ``walk``, ``build_seconds`` (the run's
    neighbour set, 0 for the live walk) and ``seconds``.
    """
    if holdout_days < 1:
        raise InputError("holdout days must be at least 1")
    if sample < 1:
        raise InputError("sample must be at least 1")
    if not 1 <= k <= 100:
        raise InputError("k must be between 1 and 100")
    if walk not in ("table", "live"):
        raise InputError(f"unknown walk {walk!r} (table or live)")
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
    cfg = replace(settings if lookalike else replace(settings, lookalike_weight=0.0), walk=walk)
    build: str | None = None
    build_seconds = 0.0
    if walk == "table":
        t0 = time.perf_counter()
        build = build_item_neighbours(graph, before_ts=cutoff, evaluation=True)["build"]
        build_seconds = time.perf_counter() - t0
    try:
        measured = _measure(graph, order, cutoff, k, sample, ranking, cfg, build)
    finally:
        if build is not None:
            drop_build(graph, build)
    model_hits, base_hits, model_items, base_items, latencies = measured

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
        "walk": walk,
        "build_seconds": build_seconds,
        "seconds": time.perf_counter() - started,
    }


def _measure(
    graph: GraphBackend, order: list[str], cutoff: int, k: int, sample: int, ranking: list[str],
    cfg: RecommendSettings, build: str | None,
) -> tuple[list[int], list[int], set[str], set[str], list[float]]:
    """Hits of the model and of the baseline per evaluated person, the items each recommended,
    and the model's latencies (ms)."""
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
        recs = [r["product_id"] for r in recommend(graph, customer_id, k=k, before_ts=cutoff, settings=cfg, item_build=build)]
        latencies.append((time.perf_counter() - t0) * 1000.0)
        base = [pid for pid in ranking if pid not in before][:k]
        model_hits.append(len(new.intersection(recs)))
        base_hits.append(len(new.intersection(base)))
        model_items.update(recs)
        base_items.update(base)
    return model_hits, base_hits, model_items, base_items, latencies


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as two table rows (model and baseline) for the CLI."""
    k = report["k"]
    rows = []
    walk = report.get("walk", "table")
    for name, key in [(f"neighbours (co-purchase, {walk})", "model"), ("popularity baseline", "popularity")]:
        m = report[key]
        rows.append({"recommender": name, f"hit_rate@{k}": m["hit_rate"], f"precision@{k}": m["precision"],
                     "coverage": m["coverage"], "evaluated": report["evaluated"]})
    return rows
