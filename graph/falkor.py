"""The FalkorDB backend: the embedded engine or an external FalkorDB, through the native client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graph.backend import Row, keyset_pages, notify
from graph.convert import to_plain
from graph.errors import GraphError
from graph.falkor_params import params_header

__all__ = ["FalkorBackend", "CREATE_EMPTY_GRAPH"]

CREATE_EMPTY_GRAPH = "RETURN 0 AS ready"
"""Sent once to a graph that does not exist yet, so a read-only query has a graph to read."""


class FalkorBackend:
    """Run Cypher on one FalkorDB graph; results come back as plain Python values."""

    engine = "falkordb"

    def __init__(self, client: Any, graph_name: str, *, description: str = "falkordb") -> None:
        self._client = client
        self.graph_name = graph_name
        self._graph = client.select_graph(graph_name)
        self.description = description

    @classmethod
    def connect(
        cls,
        *,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        unix_socket_path: str | None = None,
        graph_name: str = "c360",
        description: str = "falkordb",
    ) -> "FalkorBackend":
        """Open a client and check the server answers."""
        import redis
        from falkordb import FalkorDB

        try:
            if unix_socket_path:
                client = FalkorDB(unix_socket_path=unix_socket_path, password=password)
            else:
                client = FalkorDB(host=host or "localhost", port=port or 6379, password=password)
            client.connection.ping()
        except redis.exceptions.AuthenticationError as e:
            raise GraphError(f"FalkorDB refused the password ({description})") from e
        except (redis.exceptions.ConnectionError, OSError) as e:
            raise GraphError(f"cannot reach FalkorDB at {description}: {e}") from e
        return cls(client, graph_name, description=description)

    @property
    def client(self) -> Any:
        """The underlying ``falkordb.FalkorDB`` client (schema commands need it)."""
        return self._client

    def _run(self, query: str, params: Mapping[str, Any] | None, *, read_only: bool) -> list[Row]:
        import redis

        notify(self.engine, query)
        text = params_header(params) + query
        try:
            if read_only:
                try:
                    result = self._graph.ro_query(text)
                except redis.exceptions.ResponseError as e:
                    if "empty key" not in str(e):
                        raise
                    # the graph does not exist yet: create it empty, then read (still read-only)
                    notify(self.engine, CREATE_EMPTY_GRAPH)
                    self._graph.query(CREATE_EMPTY_GRAPH)
                    result = self._graph.ro_query(text)
            else:
                result = self._graph.query(text)
        except redis.exceptions.ResponseError as e:
            raise GraphError(f"FalkorDB: {str(e).strip()}") from e
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
            raise GraphError(f"lost the connection to FalkorDB at {self.description}: {e}") from e
        except ValueError as e:
            raise GraphError(f"cannot send parameters to FalkorDB: {e}") from e
        names = [column[1] for column in result.header]
        return [{name: to_plain(value) for name, value in zip(names, row)} for row in result.result_set]

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a read-only statement (``GRAPH.RO_QUERY``: the engine refuses writes in it)."""
        return self._run(query, params, read_only=True)

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a statement that may write; FalkorDB applies each statement atomically."""
        return self._run(query, params, read_only=False)

    def stream(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        key: str = "key",
        page_size: int = 10_000,
        after: Any = "",
    ) -> Iterator[Row]:
        """Yield rows of a keyset-paged read, one page per round trip."""
        return keyset_pages(
            lambda q, p: self._run(q, p, read_only=True), query, params, key=key, page_size=page_size, after=after
        )

    def explain(self, query: str, params: Mapping[str, Any] | None = None) -> list[str]:
        """The engine's execution plan for a statement, one operation per line (nothing runs)."""
        try:
            return [str(line) for line in self.execute_command("GRAPH.EXPLAIN", self.graph_name, params_header(params) + query)]
        except GraphError:
            raise
        except (OSError, ValueError) as e:
            raise GraphError(f"cannot explain the statement on FalkorDB: {e}") from e

    def sibling(self, graph_name: str) -> "FalkorBackend":
        """A backend on another graph of the same server, sharing this one's client."""
        return FalkorBackend(self._client, graph_name, description=self.description)

    def forget_schema(self) -> None:
        """Drop the client's cached label and property names (the graph under this name was replaced)."""
        self._graph = self._client.select_graph(self.graph_name)

    def execute_command(self, *args: Any) -> Any:
        """Send a raw FalkorDB command (``GRAPH.CONSTRAINT`` ...); only our fixed commands use it."""
        import redis

        try:
            return self._client.connection.execute_command(*args)
        except redis.exceptions.ResponseError as e:
            raise GraphError(f"FalkorDB: {str(e).strip()}") from e

    def drop(self) -> None:
        """Delete the whole graph (tests and ``c360 db reset``)."""
        import redis

        try:
            self._graph.delete()
        except redis.exceptions.ResponseError:
            pass

    def close(self) -> None:
        """Close the client's connections; the server keeps running."""
        try:
            self._client.close()
        except Exception:  # closing twice or after the server went away is harmless
            pass
