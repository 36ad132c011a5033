"""Build the ``BOUGHT_WITH`` item-neighbour edges in the graph (read pairs, compute, write, switch).

Recommendations read these edges instead of walking every co-buyer's purchases per request;
rebuild them after loading new purchases (``c360 item-neighbours``; the demo does it after its
load). See :mod:`queries.item_neighbours` for how a rebuild stays invisible to readers.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from analytics.graph_batches import EdgeRowWriter, account_id_chunks, delete_in_batches, grouped_rows
from analytics.item_neighbours import DEFAULT_ALPHA, DEFAULT_TOP_N, neighbour_blocks
from graph.backend import GraphBackend
from queries import item_neighbours as q
from queries.recommend import NO_CUTOFF, clear_item_neighbours_cache

__all__ = ["purchase_pairs", "build_item_neighbours", "drop_build", "current_build", "new_build_id", "new_eval_build_id"]

_KEY_PAGE = 20_000
_ID_CHUNK = 2_000
_WRITE_BATCH = 20_000  # edges per write statement
_EVAL_TTL_S = 6 * 3600  # an evaluation's edges older than this are an interrupted run's


def purchase_pairs(graph: GraphBackend, *, before_ts: int = NO_CUTOFF) -> pd.DataFrame:
    """Distinct ``(buyer, product_id)`` pairs of purchases before ``before_ts``; a buyer is a
    person (or an account without identity links)."""
    buyers: list[str] = []
    products: list[str] = []
    for ids in account_id_chunks(graph, _KEY_PAGE, _ID_CHUNK):
        for row in graph.read(q.ACCOUNT_PRODUCTS, {"ids": ids, "before_ts": int(before_ts)}):
            bought = row["products"] or []
            buyers.extend([row["buyer"]] * len(bought))
            products.extend(bought)
    return pd.DataFrame({"buyer": buyers, "product_id": products}).drop_duplicates(ignore_index=True)


def _rows(part: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """One :data:`queries.item_neighbours.WRITE_BOUGHT_WITH` row per product."""
    return grouped_rows(part["product_id"].to_numpy(dtype=object), b=part["other_id"].tolist(),
                        s=part["score"].to_numpy(dtype=float).tolist(), n=part["together"].to_numpy(dtype=np.int64).tolist())


def _write(graph: GraphBackend, parts: Iterable[pd.DataFrame], build: str, batch: int) -> int:
    writer = EdgeRowWriter(graph, q.WRITE_BOUGHT_WITH, batch, {"build": build})
    for part in parts:
        writer.add(_rows(part))
    writer.flush()
    return writer.written


_ID_LOCK = threading.Lock()
_LAST_NS = [0]


def new_build_id(now: float | None = None) -> str:
    """A served build's id, ``b-<10-digit epoch seconds>.<9-digit nanoseconds>-<random>``: ids
    compare like start times, also within one second, and after ids of the older form
    ``b-<seconds>-<random>`` of the same second."""
    if now is None:
        with _ID_LOCK:  # strictly increasing within this process, even on a coarse clock
            ns = _LAST_NS[0] = max(time.time_ns(), _LAST_NS[0] + 1)
    else:
        ns = int(now * 1e9)
    return f"b-{ns // 10**9:010d}.{ns % 10**9:09d}-{secrets.token_hex(4)}"


def new_eval_build_id(now: float | None = None) -> str:
    """``eval-<10-digit epoch seconds>-<random>``: sorts like the time it was made."""
    return f"{q.EVAL_PREFIX}{int(time.time() if now is None else now):010d}-{secrets.token_hex(4)}"


def drop_build(graph: GraphBackend, build: str) -> int:
    """Delete every edge of ``build``; returns how many."""
    return delete_in_batches(graph, q.DROP_BUILD, {"build": build})


def current_build(graph: GraphBackend) -> dict[str, Any] | None:
    """The current build's id, time and settings, or None before the first build."""
    rows = graph.read(q.CURRENT_BUILD)
    return rows[0] if rows else None


def build_item_neighbours(
    graph: GraphBackend,
    *,
    top_n: int = DEFAULT_TOP_N,
    alpha: float = DEFAULT_ALPHA,
    min_together: int = 1,
    before_ts: int = NO_CUTOFF,
    evaluation: bool = False,
    batch_size: int = _WRITE_BATCH,
) -> dict[str, Any]:
    """Compute every product's ``top_n`` co-purchase neighbours and store them as ``BOUGHT_WITH`` edges.

    With ``evaluation=False`` the new set becomes the one recommendations read, and older
    builds' edges are deleted; if a build started later has finished meanwhile, that one stays
    current and this one's edges are deleted instead (``superseded_by`` names it).

    With ``evaluation=True`` (the offline evaluation, usually with a ``before_ts`` cutoff) the
    set is stored under an ``eval-`` build id that is never current: pass that id to
    :func:`queries.recommend.recommend` (``item_build=``) and remove it with :func:`drop_build`.

    Returns
    -------
    dict with ``build`` (its id), ``products`` (products with neighbours), ``edges``, ``pairs``
    (distinct buyer-product pairs read), ``replaced_edges``, ``superseded_by`` (None unless a
    newer build won) and ``seconds`` per step: ``read``, ``compute_write``, ``switch``,
    ``clean`` and ``total``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    build = new_eval_build_id() if evaluation else new_build_id()
    pairs = purchase_pairs(graph, before_ts=before_ts)
    t_read = time.perf_counter()
    products: set[str] = set()

    def tracked(parts: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            products.update(part["product_id"].unique().tolist())
            yield part

    blocks = neighbour_blocks(pairs, top_n=top_n, alpha=alpha, min_together=min_together) if len(pairs) else iter(())
    try:
        edges = _write(graph, tracked(blocks), build, batch_size)
    except BaseException:
        try:  # a half-written set must not linger (it would never be current)
            drop_build(graph, build)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    t_write = time.perf_counter()
    cleaned = 0
    superseded_by = None
    if evaluation:
        delete_in_batches(graph, q.DROP_STALE_EVAL_BUILDS, {"older_than": new_eval_build_id(time.time() - _EVAL_TTL_S)})
        t_switch = time.perf_counter()
    else:
        rows = graph.write(q.SET_CURRENT_BUILD, {
            "build": build, "built_at": int(time.time()), "before_ts": int(before_ts), "edges": edges,
            "products": len(products), "top_n": int(top_n), "alpha": float(alpha),
        })
        clear_item_neighbours_cache()
        t_switch = time.perf_counter()
        superseded_by = rows[0]["build"] if rows and rows[0]["build"] != build else None
        if superseded_by is None:
            cleaned = delete_in_batches(graph, q.CLEAR_OLD_BUILDS, {})
        else:  # a build started after this one already finished: its (newer) data stays current
            drop_build(graph, build)
    done = time.perf_counter()
    return {
        "build": build,
        "products": len(products),
        "edges": edges,
        "pairs": len(pairs),
        "replaced_edges": cleaned,
        "superseded_by": superseded_by,
        "seconds": {
            "read": t_read - started,
            "compute_write": t_write - t_read,
            "switch": t_switch - t_write,
            "clean": done - t_switch,
            "total": done - started,
        },
    }
