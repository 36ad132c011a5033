"""The small protocol every graph engine implements, so nothing above `graph/` knows which one runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["GraphBackend", "Row", "QueryObserver", "add_observer", "remove_observer", "notify"]

Row = dict[str, Any]
QueryObserver = Callable[[str, str], None]
"""Called as ``observer(engine, query_text)`` for every statement a backend sends."""

_observers: list[QueryObserver] = []


def add_observer(observer: QueryObserver) -> None:
    """Register a callback that sees every statement sent (tests use it to prove coverage)."""
    _observers.append(observer)


def remove_observer(observer: QueryObserver) -> None:
    """Unregister a callback added with :func:`add_observer`."""
    if observer in _observers:
        _observers.remove(observer)


def notify(engine: str, query: str) -> None:
    """Tell the observers a statement is being sent."""
    for observer in _observers:
        observer(engine, query)


@runtime_checkable
class GraphBackend(Protocol):
    """Run Cypher and get plain Python values back (dicts, lists, str, int, float, bool, None).

    ``engine`` is ``"falkordb"`` or ``"neo4j"``; it selects the few dialect-specific
    statements (schema) and nothing else.
    """

    engine: str

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a read-only statement and return all rows."""
        ...

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a statement that may write, in one transaction, and return all rows."""
        ...

    def stream(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        key: str = "key",
        page_size: int = 10_000,
        after: Any = "",
    ) -> Iterator[Row]:
        """Yield the rows of a keyset-paged read, one page per round trip.

        ``query`` takes ``$after`` and ``$limit`` and returns at most ``$limit`` rows ordered by
        the column ``key``; paging stops at the first short page.
        """
        ...

    def close(self) -> None:
        """Release connections (an embedded server keeps running; see ``c360 db stop``)."""
        ...


def keyset_pages(
    run: Callable[[str, Mapping[str, Any]], list[Row]],
    query: str,
    params: Mapping[str, Any] | None,
    *,
    key: str,
    page_size: int,
    after: Any,
) -> Iterator[Row]:
    """Shared keyset paging used by every backend's ``stream``."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    base = dict(params or {})
    while True:
        page = run(query, {**base, "after": after, "limit": page_size})
        yield from page
        if len(page) < page_size:
            return
        after = page[-1][key]
