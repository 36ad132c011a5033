"""Bounded reads and deletes shared by the analytics jobs: account ids in chunks, deletes in batches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graph.backend import GraphBackend
from queries import analytics_io as q

__all__ = ["account_id_chunks", "delete_in_batches"]


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
