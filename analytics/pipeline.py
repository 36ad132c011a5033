"""Run the graph analytics against the database: stream data out, compute, write results back.

The pure modules (:mod:`analytics.influence`, :mod:`analytics.similarity`,
:mod:`analytics.segments`) do the maths; this module only moves rows. Reads are keyset pages
of whole accounts, or of account ids whose events are then read a chunk of ids at a time
(never one giant result); writes are batched ``UNWIND`` statements.

On Neo4j with the Graph Data Science library the PageRank (and, on request, node similarity
and Louvain) can run in the database instead (``engine="gds"``); NetworkX stays the
default on FalkorDB and the reference in the tests.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics.build_lock import LOOKALIKES, exclusive_build
from analytics.graph_batches import EdgeRowWriter, account_id_chunks, delete_in_batches, grouped_rows
from analytics.influence import DEFAULT_KIND_WEIGHTS, influence_graph, influence_scores
from analytics.segments import NO_SEGMENT, describe_segments, louvain_segments
from analytics.similarity import (
    CustomerProductMatrix,
    benchmark_vs_networkx,
    expand_audience,
    explain,
    interaction_matrix,
    top_k_blocks,
    top_k_similar,
)
from graph.backend import GraphBackend
from graph.errors import C360Error, ConfigError, GraphError, InputError, NotFoundError
from loaders.contract import INFLUENCE_TYPES
from queries import analytics_io as q

__all__ = [
    "ENGINES",
    "REPORT_COLUMNS",
    "gds_available",
    "resolve_engine",
    "influence_data",
    "influence_report",
    "interaction_data",
    "build_lookalikes",
    "lookalikes",
    "expand_seed",
    "build_segments",
    "list_segments",
]

ENGINES = ("auto", "networkx", "gds")
REPORT_COLUMNS = [
    "rank", "customer_id", "name", "score", "reach_direct", "reach_total", "max_depth",
    "referred_revenue", "segment_id",
]
_KIND_OF_TYPE = {rel: kind for kind, rel in INFLUENCE_TYPES.items()}
_PAGE = 25_000
_KEY_PAGE = 20_000
_EVENT_CHUNK = 5_000
_READ_AHEAD = 1  # event statements in flight. Two at once crashed FalkorDB 1.4.1 (segfault in GraphBLAS
# GB_AxB_saxpy3_flopcount) on the 100k benchmark graph in 4 of 6 tries; keep 1 until that is fixed upstream.
_SIMILAR_BATCH = 20_000  # look-alike edges per write statement
_BATCH = 5_000
_ID_BATCH = 1_000


# --- engine choice ---------------------------------------------------------------------------


def gds_available(graph: GraphBackend) -> bool:
    """True on Neo4j when the Graph Data Science library answers ``gds.version()``."""
    if getattr(graph, "engine", None) != "neo4j":
        return False
    try:
        graph.read(q.GDS_VERSION)
    except C360Error:
        return False
    return True


def resolve_engine(graph: GraphBackend, engine: str) -> str:
    """``"networkx"`` or ``"gds"`` for the requested engine (``"auto"`` picks GDS when available)."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (use one of: {', '.join(ENGINES)})")
    if engine == "auto":
        return "gds" if gds_available(graph) else "networkx"
    if engine == "gds" and not gds_available(graph):
        raise ConfigError("the gds engine needs Neo4j with the Graph Data Science library installed")
    return engine


def _gds_name(what: str) -> str:
    return f"c360-{what}-{uuid.uuid4().hex[:10]}"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- influence -------------------------------------------------------------------------------


def influence_data(
    graph: GraphBackend, *, page_size: int = _PAGE, referral_kind: str = "referral"
) -> tuple[pd.DataFrame, list[str], dict[str, float]]:
    """Every influence edge, every account id, and the revenue that referral reach needs.

    Edges come in keyset pages of accounts. Revenue is only read for accounts someone
    referred (the only ones that can count towards another account's referred revenue),
    in batches of ids.

    Returns
    -------
    (edges, customers, revenue)
        ``edges`` has columns ``from_id, to_id, kind`` (influencer -> influenced, kind as in
        the data contract); ``customers`` lists every account; ``revenue`` maps each referred
        account to its summed transaction amounts (refunds included).
    """
    src: list[str] = []
    dst: list[str] = []
    kind: list[str] = []
    customers: list[str] = []
    for row in graph.stream(q.INFLUENCE_EDGES, key="key", page_size=page_size):
        cid = row["key"]
        customers.append(cid)
        types, others = row["types"] or [], row["others"] or []
        if len(types) != len(others):
            raise GraphError(f"influence edges of {cid} came back misaligned ({len(types)} types, {len(others)} ends)")
        for rel, other in zip(types, others):
            src.append(cid)
            dst.append(other)
            kind.append(_KIND_OF_TYPE[rel])
    edges = pd.DataFrame({"from_id": src, "to_id": dst, "kind": kind}, dtype=object)
    referred = sorted(set(edges.loc[edges["kind"] == referral_kind, "to_id"]))
    revenue: dict[str, float] = {}
    for chunk in _chunks(referred, _BATCH):
        for r in graph.read(q.REVENUE_OF, {"ids": list(chunk)}):
            revenue[r["customer_id"]] = float(r["revenue"] or 0.0)
    return edges, customers, revenue


def _gds_pagerank(graph: GraphBackend, weights: Mapping[str, float], alpha: float) -> dict[str, float]:
    """PageRank in the database over the reversed, weighted influence projection."""
    name = _gds_name("influence")
    by_type = {INFLUENCE_TYPES[k]: float(w) for k, w in weights.items() if k in INFLUENCE_TYPES}
    graph.write(q.GDS_PROJECT_INFLUENCE, {"name": name, "weights": by_type})
    try:
        rows = graph.read(q.GDS_PAGERANK, {"name": name, "alpha": alpha})
    finally:
        graph.write(q.GDS_DROP, {"name": name})
    return {r["customer_id"]: float(r["score"]) for r in rows}


def _with_gds_scores(scores: pd.DataFrame, pagerank: Mapping[str, float], alpha: float) -> pd.DataFrame:
    """Replace NetworkX scores by GDS PageRank (accounts outside the projection get 1 - alpha,
    GDS's value for a node nobody points to), normalised by the maximum and re-ranked."""
    out = scores.copy()
    raw = out["customer_id"].map(pagerank).astype(float).fillna(1.0 - alpha)
    top = raw.max()
    out["score"] = raw / top if top > 0 else raw
    out = out.sort_values(["score", "customer_id"], ascending=[False, True], kind="mergesort")
    out["rank"] = np.arange(1, len(out) + 1, dtype=np.int64)
    return out.reset_index(drop=True)


def _write_rows(graph: GraphBackend, query: str, rows: Sequence[Mapping[str, Any]], batch_size: int) -> None:
    for start in range(0, len(rows), batch_size):
        graph.write(query, {"rows": list(rows[start : start + batch_size])})


def influence_report(
    graph: GraphBackend,
    *,
    top: int = 20,
    kind_weights: Mapping[str, float] | None = None,
    engine: str = "auto",
    alpha: float = 0.85,
    plot: str | Path | None = None,
    write: bool = True,
    page_size: int = _PAGE,
    batch_size: int = _BATCH,
) -> pd.DataFrame:
    """Score every account's influence, write the scores back and return the top ``top``.

    Every account (also those with no influence edge) gets ``influence_score`` (weighted
    PageRank towards the influencer, 1.0 = most influential), ``influence_rank``,
    ``reach_direct`` / ``reach_total`` (accounts referred directly / down the whole referral
    tree) and ``referred_revenue`` (net revenue of those referred accounts). See
    ``docs/analytics.md`` for the exact definitions.

    Parameters
    ----------
    top : rows returned (all accounts are scored and written).
    kind_weights : weight per influence kind; default :data:`analytics.influence.DEFAULT_KIND_WEIGHTS`.
    engine : ``"networkx"``, ``"gds"`` (Neo4j GDS PageRank; reach still computed here) or
        ``"auto"`` (GDS when available).
    plot : if given, a PNG of the top scores and referral trees is written there.
    write : set False to compute without writing.

    Returns
    -------
    DataFrame with :data:`REPORT_COLUMNS`, sorted by rank; ``attrs["timings"]`` holds the
    seconds spent reading, computing and writing, ``attrs["engine"]`` the engine used and
    ``attrs["customers"]`` how many accounts were scored.
    """
    if top < 1:
        raise InputError(f"top must be at least 1, got {top}")
    chosen = resolve_engine(graph, engine)
    weights = dict(DEFAULT_KIND_WEIGHTS if kind_weights is None else kind_weights)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    edges, customers, revenue = influence_data(graph, page_size=page_size)
    timings["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    G = influence_graph(edges, kind_weights=weights)
    G.add_nodes_from(customers)
    scores = influence_scores(G, revenue=revenue, alpha=alpha)
    if chosen == "gds" and len(scores):
        scores = _with_gds_scores(scores, _gds_pagerank(graph, weights, alpha), alpha)
    timings["compute"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if write and len(scores):
        rows = [
            {
                "id": cid, "score": float(s), "rank": int(r), "reach_direct": int(d),
                "reach_total": int(t), "referred_revenue": float(v),
            }
            for cid, s, r, d, t, v in zip(
                scores["customer_id"], scores["score"], scores["rank"], scores["reach_direct"],
                scores["reach_total"], scores["referred_revenue"],
            )
        ]
        _write_rows(graph, q.WRITE_INFLUENCE, rows, batch_size)
    timings["write"] = time.perf_counter() - t0

    best = scores.head(top).copy()
    labels = {r["customer_id"]: r for r in graph.read(q.CUSTOMER_LABELS, {"ids": best["customer_id"].tolist()})}
    best["name"] = [labels.get(c, {}).get("name") for c in best["customer_id"]]
    best["segment_id"] = [labels.get(c, {}).get("segment_id") for c in best["customer_id"]]
    best = best[REPORT_COLUMNS].reset_index(drop=True)
    if plot is not None:
        from analytics.plots import plot_influence

        t0 = time.perf_counter()
        plot_influence(G, scores, plot, top=min(top, 10))
        timings["plot"] = time.perf_counter() - t0
    best.attrs.update(timings=timings, engine=chosen, customers=len(scores))
    return best


# --- look-alikes -----------------------------------------------------------------------------


class _Events:
    """Collects account rows of :data:`queries.analytics_io.ACCOUNT_EVENTS` and accepted offers
    into flat lists; :meth:`frame` turns them into one events frame."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self._bought: list[str] = []  # "<ts> <product_id>"
        self._bought_by: list[int] = []  # events per account, in account order
        self._spent: list[float] = []
        self._viewed: list[str] = []
        self._viewed_by: list[int] = []
        self._ids: list[str] = []
        self._acc: tuple[list[str], list[str], list[int]] = ([], [], [])

    def add_accounts(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            cid = row["key"]
            bought, spent, viewed = row["bought"] or [], row["spent"] or [], row["viewed"] or []
            if len(bought) != len(spent):
                raise GraphError(f"purchases of {cid} came back misaligned ({len(bought)} lines, {len(spent)} amounts)")
            self.accounts[cid] = {"revenue": float(row["revenue"] or 0.0), "churn_risk": row.get("churn_risk")}
            self._ids.append(cid)
            self._bought += bought
            self._bought_by.append(len(bought))
            self._spent += spent
            self._viewed += viewed
            self._viewed_by.append(len(viewed))

    def add_accepts(self, rows: Iterable[Mapping[str, Any]]) -> None:
        cids, pids, ts = self._acc
        for r in rows:
            if r["customer_id"] is not None and r["product_id"] is not None and r["ts"] is not None:
                cids.append(r["customer_id"])
                pids.append(r["product_id"])
                ts.append(r["ts"])

    def frame(self) -> pd.DataFrame:
        ids = np.asarray(self._ids, dtype=object)
        parts = []
        for texts, per_account, kind, amount in (
            (self._bought, self._bought_by, "purchase", np.asarray(self._spent, dtype=float)),
            (self._viewed, self._viewed_by, "view", None),
        ):
            split = [t.partition(" ") for t in texts]
            parts.append((
                np.repeat(ids, per_account),
                np.asarray([x[2] for x in split], dtype=object),
                kind,
                np.asarray([x[0] for x in split], dtype=object).astype(np.int64) if split else np.zeros(0, np.int64),
                np.full(len(split), np.nan) if amount is None else amount,
            ))
        cids, pids, ts = self._acc
        parts.append((np.asarray(cids, dtype=object), np.asarray(pids, dtype=object), "accept",
                      np.asarray(ts, dtype=np.int64), np.full(len(cids), np.nan)))
        return pd.DataFrame(
            {
                "customer_id": pd.array(np.concatenate([p[0] for p in parts]), dtype=object),
                "product_id": pd.array(np.concatenate([p[1] for p in parts]), dtype=object),
                "kind": pd.array(np.repeat([p[2] for p in parts], [len(p[0]) for p in parts]), dtype=object),
                "occurred_at": pd.to_datetime(np.concatenate([p[3] for p in parts]), unit="s"),
                "amount": np.concatenate([p[4] for p in parts]).astype(float),
            }
        )


def _matrix(events: pd.DataFrame) -> CustomerProductMatrix | None:
    return interaction_matrix(events) if len(events) else None


def _read_ahead(fn: Callable[[Any], Any], items: Iterable[Any], depth: int) -> Iterator[Any]:
    """``fn(item)`` for every item, yielded in order, with up to ``depth`` calls running at once
    in worker threads (one call at a time, in this thread, when ``depth`` is 1)."""
    if depth <= 1:
        for item in items:
            yield fn(item)
        return
    with ThreadPoolExecutor(max_workers=depth, thread_name_prefix="c360-read") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def interaction_data(
    graph: GraphBackend,
    *,
    page_size: int = _KEY_PAGE,
    chunk_size: int = _EVENT_CHUNK,
    read_ahead: int = _READ_AHEAD,
    timings: dict[str, float] | None = None,
) -> tuple[CustomerProductMatrix | None, dict[str, dict[str, Any]]]:
    """The customer x product matrix of every account (purchases, product views, accepted
    offers) and ``{customer_id: {revenue, churn_risk}}`` for every account. The matrix is None
    when there are no events at all.

    Account ids come in keyset pages of ``page_size``; their events are read ``chunk_size``
    accounts per statement (:data:`queries.analytics_io.ACCOUNT_EVENTS`), up to ``read_ahead``
    statements in flight (1: strictly one after the other); accepted offers come in keyset
    pages of touches. Memory stays bounded by the pages in flight plus the flat event lists.
    ``timings``, when given, receives ``read`` and ``matrix`` seconds.
    """
    if chunk_size < 1 or page_size < 1:
        raise InputError("page_size and chunk_size must be at least 1")
    t0 = time.perf_counter()
    ev = _Events()
    for rows in _read_ahead(lambda ids: graph.read(q.ACCOUNT_EVENTS, {"ids": ids}),
                            account_id_chunks(graph, page_size, chunk_size), read_ahead):
        ev.add_accounts(rows)
    ev.add_accepts(graph.stream(q.ACCEPTED_OFFERS, key="key", page_size=page_size))
    t1 = time.perf_counter()
    m = _matrix(ev.frame())
    if timings is not None:
        timings["read"] = t1 - t0
        timings["matrix"] = time.perf_counter() - t1
    return m, ev.accounts


def _check_ids(graph: GraphBackend, ids: Sequence[str]) -> None:
    """Raise :class:`NotFoundError` naming every id that is not an account."""
    found: set[str] = set()
    for chunk in _chunks(list(ids), _ID_BATCH):
        found.update(r["customer_id"] for r in graph.read(q.CUSTOMER_EXISTS, {"ids": list(chunk)}))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(missing[:20]) + (f" ... ({len(missing)} in all)" if len(missing) > 20 else "")
        raise NotFoundError(f"unknown customer id(s): {shown}")


def _events_of(graph: GraphBackend, ids: Iterable[str]) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    ev = _Events()
    for chunk in _chunks(sorted(set(ids)), _ID_BATCH):
        ev.add_accounts(graph.read(q.ACCOUNT_EVENTS, {"ids": list(chunk)}))
        ev.add_accepts(graph.read(q.ACCEPTED_OFFERS_OF, {"ids": list(chunk)}))
    return ev.frame(), ev.accounts


def _neighbourhood(graph: GraphBackend, ids: Sequence[str]) -> CustomerProductMatrix | None:
    """The matrix of ``ids`` plus every account sharing a product with them.

    Cosine and Jaccard similarity of two accounts depend on their two rows only (the decay
    reference date scales a whole row, which normalisation cancels), so look-alikes computed
    on this neighbourhood equal those on the whole matrix.
    """
    events, _ = _events_of(graph, ids)
    products = sorted(set(events["product_id"]))
    candidates: set[str] = set(ids)
    for chunk in _chunks(products, _ID_BATCH):
        for row in graph.read(q.PRODUCT_AUDIENCE, {"products": list(chunk)}):
            for col in ("buyers", "viewers", "acceptors"):
                candidates.update(c for c in row[col] or () if c is not None)
    others = candidates - set(ids)
    if others:
        more, _ = _events_of(graph, others)
        events = pd.concat([events, more], ignore_index=True)
    return _matrix(events)


def build_lookalikes(
    graph: GraphBackend,
    *,
    k: int = 20,
    metric: str = "cosine",
    engine: str = "networkx",
    batch_size: int = _SIMILAR_BATCH,
    read_ahead: int = _READ_AHEAD,
    compare_networkx: int = 0,
) -> pd.DataFrame:
    """Compute every account's ``k`` look-alikes and store them as ``SIMILAR_TO`` edges.

    Old ``SIMILAR_TO`` edges are deleted first; then one edge per ordered pair
    ``(a)-[:SIMILAR_TO {score, shared}]->(b)`` for each of ``a``'s top ``k``, ``batch_size``
    edges per statement. ``engine="gds"`` uses Neo4j GDS node similarity (Jaccard on purchased
    products only; ``shared`` is then not known and stored as null).

    With NetworkX (the default) the database work overlaps the computation: once the data is
    read, a writer thread deletes the old edges and stores each finished block of accounts
    while the next block is computed. The build is not one transaction (it never was: the
    edges go in batches), so readers see a partial set meanwhile, and a build that fails half
    way leaves one: run it again. Only one look-alike or segment build runs at a time
    (:func:`analytics.build_lock.exclusive_build`); another one raises
    :class:`graph.errors.BusyError` meanwhile.

    Returns
    -------
    DataFrame ``customer_id, other_id, score, shared`` (the edges written). ``attrs["timings"]``
    holds seconds: ``read`` (events out of the graph), ``matrix`` (building the matrix),
    ``compute`` (the look-alikes), ``delete`` and ``write`` (the writer's time in the database,
    overlapping ``compute``), ``finish`` (waiting for the writer after the last block) and
    ``total`` (end to end); ``attrs["engine"]`` the engine used, ``attrs["edges"]`` the edges written.

    ``compare_networkx=N`` (NetworkX engine only) then also times ``nx.jaccard_coefficient``
    against our Jaccard look-alikes on a sample of up to N accounts of the matrix just read
    (:func:`analytics.similarity.benchmark_vs_networkx`, a few seconds at any size) and puts
    its dict in ``attrs["vs_networkx"]``; its seconds go to ``timings["vs_networkx"]``, not
    into ``total``.
    """
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    with exclusive_build(graph, LOOKALIKES, "look-alike"):
        return _build_lookalikes(graph, k=k, metric=metric, engine=engine, batch_size=batch_size,
                                 read_ahead=read_ahead, compare_networkx=compare_networkx)


def _build_lookalikes(graph: GraphBackend, *, k: int, metric: str, engine: str, batch_size: int,
                      read_ahead: int, compare_networkx: int) -> pd.DataFrame:
    """:func:`build_lookalikes` without taking the lock (the caller holds it)."""
    started = time.perf_counter()
    chosen = resolve_engine(graph, engine)
    timings: dict[str, float] = {}
    m: CustomerProductMatrix | None = None
    if chosen == "gds":
        t0 = time.perf_counter()
        pairs = _gds_similar(graph, k)
        timings["compute"] = time.perf_counter() - t0
        _store_similar(graph, pairs, batch_size, timings)
    else:
        m, _ = interaction_data(graph, read_ahead=read_ahead, timings=timings)
        blocks = top_k_blocks(m, k=k, metric=metric) if m is not None else iter(())
        pairs = _compute_and_store(graph, blocks, batch_size, timings)
    timings["total"] = time.perf_counter() - started
    out = pairs.reset_index(drop=True)
    out.attrs.update(timings=timings, engine=chosen, edges=len(out))
    if compare_networkx > 0 and m is not None:
        t0 = time.perf_counter()
        out.attrs["vs_networkx"] = benchmark_vs_networkx(m, sample=compare_networkx, k=k)
        timings["vs_networkx"] = time.perf_counter() - t0
    return out


_NO_PAIRS = {"customer_id": [], "other_id": [], "score": [], "shared": []}


def _similar_rows(pairs: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """One :data:`queries.analytics_io.WRITE_SIMILAR` row per run of equal ``customer_id``."""
    col = pairs["shared"]
    if pd.api.types.is_integer_dtype(col.dtype):
        shared = col.to_numpy(dtype=np.int64).tolist()
    else:  # GDS: not known
        shared = [None if pd.isna(x) else int(x) for x in col.tolist()]
    return grouped_rows(pairs["customer_id"].to_numpy(dtype=object), b=pairs["other_id"].tolist(),
                        s=pairs["score"].to_numpy(dtype=float).tolist(), n=shared)


def _store_similar(graph: GraphBackend, pairs: pd.DataFrame, batch_size: int,
                   timings: dict[str, float] | None = None) -> None:
    """Replace every SIMILAR_TO edge by ``pairs`` (one edge per ordered pair)."""
    t0 = time.perf_counter()
    delete_in_batches(graph, q.CLEAR_SIMILAR)
    writer = EdgeRowWriter(graph, q.WRITE_SIMILAR, batch_size)
    t1 = time.perf_counter()
    writer.add(_similar_rows(pairs))
    writer.flush()
    if timings is not None:
        timings["delete"] = t1 - t0
        timings["write"] = time.perf_counter() - t1


_DONE = object()


def _compute_and_store(graph: GraphBackend, blocks: Iterable[pd.DataFrame], batch_size: int,
                       timings: dict[str, float]) -> pd.DataFrame:
    """Compute look-alike blocks here while a writer thread deletes the old edges and stores
    each block; returns every pair. Errors of either side are raised here."""
    work: queue.Queue = queue.Queue(maxsize=8)  # bounded: the computation cannot run far ahead
    writer = EdgeRowWriter(graph, q.WRITE_SIMILAR, batch_size)
    failed: list[BaseException] = []
    deleted = [0.0]

    def run() -> None:
        try:
            t0 = time.perf_counter()
            delete_in_batches(graph, q.CLEAR_SIMILAR)
            deleted[0] = time.perf_counter() - t0
            while (part := work.get()) is not _DONE:
                writer.add(_similar_rows(part))
            writer.flush()
        except BaseException as e:  # noqa: BLE001 - handed to the computing thread below
            failed.append(e)
            while work.get() is not _DONE:  # keep draining so the producer never blocks
                pass

    thread = threading.Thread(target=run, name="c360-similar-writer", daemon=True)
    thread.start()
    parts: list[pd.DataFrame] = []
    compute = 0.0
    try:
        it = iter(blocks)
        while not failed:
            t0 = time.perf_counter()
            part = next(it, None)
            compute += time.perf_counter() - t0
            if part is None:
                break
            parts.append(part)
            work.put(part)
    finally:
        work.put(_DONE)
        t0 = time.perf_counter()
        thread.join()
        timings["finish"] = time.perf_counter() - t0
    if failed:
        raise failed[0]
    timings.update(compute=compute, delete=deleted[0], write=writer.seconds)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(_NO_PAIRS)


def _gds_similar(graph: GraphBackend, k: int) -> pd.DataFrame:
    name = _gds_name("purchases")
    graph.write(q.GDS_PROJECT_PURCHASES, {"name": name})
    try:
        rows = graph.read(q.GDS_NODE_SIMILARITY, {"name": name, "k": k})
    finally:
        graph.write(q.GDS_DROP, {"name": name})
    df = pd.DataFrame(rows, columns=["customer_id", "other_id", "score"])
    df["shared"] = pd.array([None] * len(df), dtype=object)
    return df.sort_values(["customer_id", "score", "other_id"], ascending=[True, False, True], kind="mergesort")


def lookalikes(graph: GraphBackend, customer_id: str, *, k: int = 10, metric: str = "cosine", why: int = 3) -> list[dict]:
    """The ``k`` accounts most similar to ``customer_id``, each with the products explaining it.

    Computed fresh from the account's neighbourhood (accounts sharing a product), so it
    needs no earlier :func:`build_lookalikes` and matches it exactly.

    Returns
    -------
    list of ``{customer_id, score, shared, why}`` (``why``: up to ``why`` shared product ids,
    strongest first), best first; empty when the account has no product events.
    """
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    customer_id = str(customer_id)
    _check_ids(graph, [customer_id])
    m = _neighbourhood(graph, [customer_id])
    if m is None or customer_id not in m.customer_index:
        return []
    top = top_k_similar(m, k=k, metric=metric, customers=[customer_id])
    return [
        {
            "customer_id": other,
            "score": float(score),
            "shared": int(shared),
            "why": explain(m, customer_id, other, top=why),
        }
        for other, score, shared in zip(top["other_id"], top["score"], top["shared"])
    ]


def expand_seed(graph: GraphBackend, seed_ids: Iterable[str], *, size: int, metric: str = "cosine") -> pd.DataFrame:
    """The ``size`` accounts outside the seed list that look most like it (a look-alike audience).

    Unknown seed ids raise :class:`NotFoundError` listing them; seeds without any product
    event are ignored (an :class:`InputError` if that leaves none). Fewer than ``size`` rows
    come back when fewer accounts share a product with the seeds.

    Returns
    -------
    DataFrame ``customer_id, score, nearest_seed`` ordered by score descending.
    """
    if size < 1:
        raise InputError(f"size must be at least 1, got {size}")
    seeds = list(dict.fromkeys(str(s).strip() for s in seed_ids if str(s).strip()))
    if not seeds:
        raise InputError("the seed list is empty")
    _check_ids(graph, seeds)
    m = _neighbourhood(graph, seeds)
    active = [s for s in seeds if m is not None and s in m.customer_index]
    if not active:
        raise InputError("none of the seed customers has a purchase, product view or accepted offer")
    return expand_audience(m, active, size=size, metric=metric)


# --- segments --------------------------------------------------------------------------------


def build_segments(
    graph: GraphBackend,
    *,
    resolution: float = 1.0,
    seed: int = 0,
    k: int = 20,
    metric: str = "cosine",
    min_size: int = 2,
    engine: str = "networkx",
    store_similar: bool = False,
    batch_size: int = _BATCH,
) -> pd.DataFrame:
    """Group every account into look-alike segments and store them in the graph.

    Louvain communities (NetworkX) of the top-``k`` similarity graph; accounts without any
    look-alike, or in a community smaller than ``min_size``, go to ``seg-none``. Writes
    ``(:Segment {segment_id, size, avg_value, churn_risk, top_products, description})`` and
    ``(:Customer)-[:IN_SEGMENT]->(:Segment)`` (old memberships replaced, segments of an earlier
    run that no longer exist deleted) and stamps ``Customer.segment_id``.

    ``store_similar=True`` also replaces the ``SIMILAR_TO`` edges with the top-``k`` pairs
    used here (what :func:`build_lookalikes` writes, without computing them twice).
    ``engine="gds"`` stores the look-alike edges first (as :func:`build_lookalikes`) and runs
    Neo4j GDS Louvain over them instead of NetworkX.

    ``avg_value`` is the mean net revenue of the members; ``churn_risk`` the mean of the
    members' stored ``churn_risk`` (from ``c360 clv fit``; null when never scored).

    Takes the same lock as :func:`build_lookalikes` (both rewrite what the other reads or
    writes): :class:`graph.errors.BusyError` while one of them runs.

    Returns
    -------
    DataFrame ``segment_id, size, avg_value, churn_risk, top_products, description``.
    """
    with exclusive_build(graph, LOOKALIKES, "segment"):
        return _build_segments(graph, resolution=resolution, seed=seed, k=k, metric=metric, min_size=min_size,
                               engine=engine, store_similar=store_similar, batch_size=batch_size)


def _build_segments(graph: GraphBackend, *, resolution: float, seed: int, k: int, metric: str, min_size: int,
                    engine: str, store_similar: bool, batch_size: int) -> pd.DataFrame:
    """:func:`build_segments` without taking the lock (the caller holds it)."""
    m, accounts = interaction_data(graph)
    ids = sorted(accounts)
    if m is not None:
        similar = top_k_similar(m, k=k, metric=metric)
        coo = m.matrix.tocoo()
        weights = pd.DataFrame(
            {"customer_id": m.customer_ids[coo.row], "product_id": m.product_ids[coo.col], "weight": coo.data}
        )
    else:
        similar = pd.DataFrame({"customer_id": [], "other_id": [], "score": []})
        weights = pd.DataFrame({"customer_id": [], "product_id": [], "weight": []})
    if resolve_engine(graph, engine) == "gds":
        _build_lookalikes(graph, k=k, metric=metric, engine="networkx", batch_size=batch_size,
                          read_ahead=_READ_AHEAD, compare_networkx=0)
        assign = _gds_segments(graph, ids, min_size=min_size)
    else:
        if store_similar:
            _store_similar(graph, similar, max(batch_size, _SIMILAR_BATCH))
        assign = louvain_segments(similar, resolution=resolution, seed=seed, min_size=min_size, customers=ids)
    spend = pd.Series({c: a["revenue"] for c, a in accounts.items()}, dtype=float)
    churn = pd.Series({c: a["churn_risk"] for c, a in accounts.items()}, dtype=float)
    summary = describe_segments(assign, spend=spend, churn=churn, top_products=weights)

    seg_rows = [
        {
            "segment_id": r.segment_id, "size": int(r.size), "avg_value": float(r.avg_value),
            "churn_risk": None if pd.isna(r.churn_risk) else float(r.churn_risk),
            "top_products": list(r.top_products), "description": r.description,
        }
        for r in summary.itertuples(index=False)
    ]
    _write_rows(graph, q.WRITE_SEGMENTS, seg_rows, batch_size)
    delete_in_batches(graph, q.CLEAR_MEMBERSHIP)
    members = [{"id": c, "segment_id": s} for c, s in zip(assign["customer_id"], assign["segment_id"])]
    _write_rows(graph, q.WRITE_MEMBERSHIP, members, batch_size)
    graph.write(q.DELETE_EMPTY_SEGMENTS, {"keep": [r["segment_id"] for r in seg_rows]})
    return summary


def _gds_segments(graph: GraphBackend, ids: Sequence[str], *, min_size: int) -> pd.DataFrame:
    """Louvain in the database over the stored SIMILAR_TO edges, numbered like
    :func:`analytics.segments.louvain_segments` (largest first, ``seg-none`` for the rest)."""
    name = _gds_name("similar")
    graph.write(q.GDS_PROJECT_SIMILAR, {"name": name})
    try:
        rows = graph.read(q.GDS_LOUVAIN, {"name": name})
    finally:
        graph.write(q.GDS_DROP, {"name": name})
    groups: dict[Any, list[str]] = {}
    for r in rows:
        groups.setdefault(r["community"], []).append(r["customer_id"])
    comms = sorted((sorted(c) for c in groups.values() if len(c) >= min_size), key=lambda c: (-len(c), c[0]))
    width = max(2, len(str(len(comms))))
    seg = {cid: f"seg-{i:0{width}d}" for i, c in enumerate(comms, start=1) for cid in c}
    out = pd.DataFrame({"customer_id": sorted(set(ids) | set(seg))})
    out["segment_id"] = [seg.get(c, NO_SEGMENT) for c in out["customer_id"]]
    return out.sort_values(["segment_id", "customer_id"], kind="mergesort").reset_index(drop=True)


def list_segments(graph: GraphBackend) -> list[dict]:
    """Every stored segment: ``segment_id, size, members, avg_value, churn_risk, top_products, description``."""
    return graph.read(q.LIST_SEGMENTS)
