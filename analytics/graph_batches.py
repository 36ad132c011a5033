"""Bounded reads and writes shared by the analytics jobs: account ids in chunks, deletes in
batches, and edge lists written a batch of edges at a time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from graph.backend import GraphBackend
from queries import analytics_io as q

__all__ = ["account_id_chunks", "delete_in_batches", "grouped_rows", "EdgeRowWriter"]


def account_id_chunks(graph: GraphBackend, page_size: int, chunk_size: int) -> Iterator[list[str]]:
    """Every account id, keyset-paged ``page_size`` at a time, handed out ``chunk_size`` at a time."""
    chunk: list[str] = []
    for row in graph.stream(q.CUSTOMER_KEYS, key="key", page_size=page_size):
        chunk.append(row["key"])
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def delete_in_batches(graph: GraphBackend, query: str, params: Mapping[str, Any] | None = None, chunk: int = 50_000) -> int:
    """Run a bounded ``... LIMIT $limit DELETE ... RETURN count(x) AS deleted`` until nothing is left;
    returns how many were deleted."""
    total = 0
    while True:
        rows = graph.write(query, {**(params or {}), "limit": chunk})
        n = int(rows[0]["deleted"]) if rows else 0
        total += n
        if n < chunk:
            return total


def grouped_rows(keys: np.ndarray, **columns: list[Any]) -> Iterator[dict[str, Any]]:
    """One row per run of equal consecutive ``keys``: ``{"a": key, name: column[i:j], ...}``, the
    shape of the ``UNWIND $rows`` edge writers (one source node, aligned lists of targets)."""
    if len(keys) == 0:
        return
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1].tolist()
    for i, j in zip(starts, starts[1:] + [len(keys)]):
        yield {"a": keys[i], **{name: values[i:j] for name, values in columns.items()}}


class EdgeRowWriter:
    """Sends :func:`grouped_rows` rows through ``statement`` (``{"rows": ..., **params}``, returning
    ``written``) in batches of about ``batch_size`` edges: ``add`` rows, then ``flush``. Edges
    written and seconds spent in the database accumulate in ``written`` and ``seconds``."""

    def __init__(self, graph: GraphBackend, statement: str, batch_size: int, params: Mapping[str, Any] | None = None) -> None:
        self.graph, self.statement, self.batch_size, self.params = graph, statement, batch_size, dict(params or {})
        self.pending: list[dict[str, Any]] = []
        self.edges = self.written = 0
        self.seconds = 0.0

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.pending.append(row)
            self.edges += len(row["b"])
            if self.edges >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        if self.pending:
            t0 = time.perf_counter()
            out = self.graph.write(self.statement, {**self.params, "rows": self.pending})
            self.seconds += time.perf_counter() - t0
            self.written += int(out[0]["written"]) if out else 0
        self.pending, self.edges = [], 0
