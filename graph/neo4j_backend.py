"""The Neo4j engine (5.x, Aura, clusters) behind the :class:`~graph.backend.GraphBackend` protocol.

Why this shape:

- Reads go through ``session.execute_read`` and writes through ``session.execute_write``:
  managed transactions, so the driver routes reads to followers/read replicas on a
  cluster and retries transient failures (leader switch, deadlock, ``SessionExpired``,
  ``ServiceUnavailable``) for up to ``max_transaction_retry_time`` (30 s by default).
  No extra retry loop is added on top: the driver's loop already covers exactly those
  errors with back-off, and a second loop would only multiply the wait before a real
  outage is reported. The work function may therefore run more than once, which is safe
  because it only runs one statement and collects its rows.
- All sessions of one backend share a bookmark manager, so a read that follows a write
  sees that write even when a cluster routes it to another member (causal consistency).
- Rows are fully consumed inside the transaction and converted with
  :func:`graph.convert.to_plain`, so callers get plain ``list[dict]``.
- Every driver failure becomes a :class:`~graph.errors.GraphError` with a one-line
  message (Neo4j status code + server message), chained with ``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import neo4j
from neo4j import exceptions as neo4j_errors

from graph.backend import Row, keyset_pages, notify
from graph.convert import record_to_dict
from graph.errors import ConfigError, GraphError
from graph.urls import GraphTarget

__all__ = ["Neo4jBackend", "describe_error"]


def describe_error(error: Exception) -> str:
    """One line for a driver exception: the Neo4j status code (if any) and the message.

    Only the first line of the message is kept (Neo4j appends the statement and a caret
    pointer on later lines), plus the second when the first ends with ``:`` (the driver's
    "Couldn't connect to X:" + reason), cut at 300 characters.
    """
    code = getattr(error, "code", None)
    message = str(getattr(error, "message", None) or error or type(error).__name__)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    if text.endswith(":") and len(lines) > 1:  # "Couldn't connect to X:" + the reason
        text = f"{text} {lines[1]}"
    if len(text) > 300:
        text = text[:297] + "..."
    if code and code != "Neo.DatabaseError.General.UnknownError":
        return f"{code}: {text}"
    return f"{type(error).__name__}: {text}"


class Neo4jBackend:
    """Run Cypher on Neo4j and return plain rows.

    Parameters
    ----------
    target : where to connect (from :func:`graph.urls.parse_graph_url`); used to build the
        driver when ``driver`` is not given.
    driver : an existing ``neo4j.Driver`` (or a test double); the backend then does not
        verify connectivity and does not close it.
    database : database name; defaults to ``target.database``; ``None`` means the
        server's default database.
    driver_config : extra keyword arguments for ``neo4j.GraphDatabase.driver``.

    Examples
    --------
    >>> backend = Neo4jBackend.from_target(parse_graph_url("neo4j://neo4j:pw@localhost"))  # doctest: +SKIP
    >>> backend.read("RETURN $x AS x", {"x": 1})  # doctest: +SKIP
    [{'x': 1}]
    """

    engine = "neo4j"

    def __init__(
        self,
        target: GraphTarget | None = None,
        *,
        driver: Any | None = None,
        database: str | None = None,
        driver_config: Mapping[str, Any] | None = None,
    ) -> None:
        if target is not None and target.kind != "neo4j":
            raise ConfigError(f"Neo4jBackend needs a neo4j:// or bolt:// target, not {target.kind!r}")
        if driver is None and target is None:
            raise ConfigError("Neo4jBackend needs a target or a driver")
        self.database = database if database is not None else (target.database if target else None)
        self._address = target.uri if target is not None else "the given driver"
        self._owns_driver = driver is None
        self._driver = driver if driver is not None else self._open(target, driver_config or {})
        self._bookmarks = neo4j.GraphDatabase.bookmark_manager()

    @classmethod
    def from_target(cls, target: GraphTarget, **driver_config: Any) -> Neo4jBackend:
        """Connect to ``target`` and check the server answers and accepts the credentials."""
        return cls(target, driver_config=driver_config)

    def _open(self, target: GraphTarget, config: Mapping[str, Any]) -> Any:
        auth = None
        if target.user is not None or target.password is not None:
            auth = neo4j.basic_auth(target.user or "neo4j", target.password or "")
        try:
            driver = neo4j.GraphDatabase.driver(target.uri, auth=auth, **config)
        except (neo4j_errors.ConfigurationError, ValueError) as e:
            raise ConfigError(f"cannot use Neo4j URI {target.uri!r}: {describe_error(e)}") from e
        try:
            driver.verify_connectivity()
        except neo4j_errors.AuthError as e:
            driver.close()
            raise GraphError(
                f"Neo4j at {target.uri} refused the credentials of user {target.user or 'neo4j'!r} "
                f"({describe_error(e)}); check the URL or NEO4J_USERNAME/NEO4J_PASSWORD"
            ) from e
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError, OSError) as e:
            driver.close()
            raise GraphError(f"cannot reach Neo4j at {target.uri}: {describe_error(e)}") from e
        return driver

    # -- GraphBackend -------------------------------------------------------------------

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a read-only statement in a managed read transaction; return all rows."""
        return self._run("read", query, params)

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a statement in a managed write transaction (committed on return); return all rows."""
        return self._run("write", query, params)

    def stream(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        key: str = "key",
        page_size: int = 10_000,
        after: Any = "",
    ) -> Iterator[Row]:
        """Yield the rows of a keyset-paged read (``$after``/``$limit``), one read per page."""
        return keyset_pages(self.read, query, params, key=key, page_size=page_size, after=after)

    def close(self) -> None:
        """Close the driver if this backend created it (safe to call twice)."""
        if self._owns_driver and self._driver is not None:
            self._driver.close()
        self._driver = None

    def __enter__(self) -> Neo4jBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Neo4jBackend({self._address!r}, database={self.database!r})"

    # -- internals ----------------------------------------------------------------------

    def _run(self, mode: str, query: str, params: Mapping[str, Any] | None) -> list[Row]:
        if self._driver is None:
            raise GraphError("the Neo4j connection is closed")
        parameters = dict(params or {})

        def work(tx: Any) -> list[Row]:
            return [record_to_dict(record) for record in tx.run(query, parameters)]

        notify(self.engine, query)
        try:
            with self._driver.session(
                database=self.database, bookmark_manager=self._bookmarks
            ) as session:
                if mode == "read":
                    return session.execute_read(work)
                return session.execute_write(work)
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as e:
            raise GraphError(f"Neo4j {mode} failed: {describe_error(e)}") from e
