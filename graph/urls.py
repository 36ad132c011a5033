"""Parse the one graph URL setting into a small, validated target description.

Why a separate module: the CLI, the API and the tests all accept the same ``--graph`` /
``C360_GRAPH_URL`` value, and every one of them must reject a bad value with the same
one-line message that never prints the password.

Accepted forms::

    None, "", "embedded"                          -> the embedded FalkorDB server
    falkordb://[[user]:password@]host[:port][/graph]   (default port 6379, graph "c360")
    neo4j://[user:password@]host[:port][/database]     (also neo4j+s, neo4j+ssc,
    bolt://...                                          bolt, bolt+s, bolt+ssc; port 7687)

User names and passwords are percent-decoded (``p%40ss`` is ``p@ss``). For Neo4j a missing
user, password or database falls back to ``NEO4J_USERNAME``, ``NEO4J_PASSWORD`` and
``NEO4J_DATABASE``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

from graph.errors import ConfigError

__all__ = ["GraphTarget", "parse_graph_url", "mask_url", "NEO4J_SCHEMES"]

NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
"""URL schemes handed to the official ``neo4j`` driver unchanged."""

_ROUTING_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc")
_FALKORDB_PORT = 6379
_NEO4J_PORT = 7687
_GRAPH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
# Neo4j database names: letters, digits, dots and dashes (underscores allowed by aliases).
_DATABASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
_EXPECTED = (
    "expected 'embedded', falkordb://[:password@]host[:port][/graph] or "
    "neo4j://[user:password@]host[:port][/database] (schemes: "
    + ", ".join(NEO4J_SCHEMES)
    + ")"
)


@dataclass(frozen=True)
class GraphTarget:
    """Where the graph lives and how to log in.

    Attributes
    ----------
    kind : "embedded", "falkordb" or "neo4j".
    uri : for Neo4j the driver URI ``scheme://host:port`` (no credentials, no path; a
        routing context query string is kept); for FalkorDB ``falkordb://host:port``;
        ``None`` for embedded.
    user, password : credentials (percent-decoded), ``None`` when not given.
    database : Neo4j database name, ``None`` for the server's default database.
    host, port : network address (``None`` for embedded).
    graph_name : the FalkorDB graph key; for Neo4j and embedded, the default graph name.
    """

    kind: Literal["embedded", "falkordb", "neo4j"]
    uri: str | None
    user: str | None
    password: str | None
    database: str | None
    host: str | None
    port: int | None
    graph_name: str

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        shown = None if self.password is None else "***"
        return (
            f"GraphTarget(kind={self.kind!r}, uri={self.uri!r}, user={self.user!r}, "
            f"password={shown!r}, database={self.database!r}, host={self.host!r}, "
            f"port={self.port!r}, graph_name={self.graph_name!r})"
        )


def mask_url(url: str) -> str:
    """Return ``url`` with the password (if any) replaced by ``***``.

    Works on malformed URLs too, because it is used to print URLs that failed to parse.
    Masks generously: everything between the first ``:`` of the user-info part and the
    last ``@`` is hidden.

    >>> mask_url("neo4j://neo4j:s3cret@db.example.com:7687/crm")
    'neo4j://neo4j:***@db.example.com:7687/crm'
    >>> mask_url("falkordb://localhost:6379/c360")
    'falkordb://localhost:6379/c360'
    """
    if url is None:
        return ""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, _, hostpart = rest.rpartition("@")
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hostpart}"


def parse_graph_url(
    url: str | None,
    *,
    default_graph: str = "c360",
    env: Mapping[str, str] | None = None,
) -> GraphTarget:
    """Turn a graph URL into a :class:`GraphTarget`, or raise :class:`ConfigError`.

    Parameters
    ----------
    url : the setting; ``None``, ``""`` or ``"embedded"`` select the embedded engine.
    default_graph : graph name used when a FalkorDB URL has no path (and for embedded).
    env : where ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD`` / ``NEO4J_DATABASE`` are read
        from; defaults to ``os.environ`` (tests pass a dict).

    >>> parse_graph_url("falkordb://localhost/crm").port
    6379
    """
    if not _GRAPH_NAME.match(default_graph):
        raise ConfigError(f"invalid default graph name {default_graph!r}")
    text = (url or "").strip()
    if text in ("", "embedded"):
        return GraphTarget("embedded", None, None, None, None, None, None, default_graph)
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme == "falkordb":
        return _parse_falkordb(text, default_graph)
    if scheme in NEO4J_SCHEMES:
        return _parse_neo4j(text, default_graph, os.environ if env is None else env)
    raise _bad(text, _EXPECTED)


def _bad(url: str, why: str) -> ConfigError:
    return ConfigError(f"unsupported graph URL {mask_url(url)!r}: {why}")


def _split(url: str, default_port: int) -> tuple[SplitResult, str, int]:
    """Split a URL and check the network part common to every scheme."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:  # bad port, bad IPv6 literal
        raise _bad(url, str(e)) from e
    if parts.fragment:
        raise _bad(url, "a '#fragment' is not allowed")
    host = parts.hostname
    if not host:
        raise _bad(url, "a host name is required")
    return parts, host, default_port if port is None else port


def _credentials(parts: SplitResult) -> tuple[str | None, str | None]:
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return user, password


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_falkordb(url: str, default_graph: str) -> GraphTarget:
    parts, host, port = _split(url, _FALKORDB_PORT)
    if parts.query:
        raise _bad(url, "a '?query' is not allowed for falkordb://")
    user, password = _credentials(parts)
    graph = parts.path.strip("/") or default_graph
    if not _GRAPH_NAME.match(graph):
        raise _bad(url, f"invalid graph name {graph!r} (letters, digits, '_', '.', '-')")
    uri = f"falkordb://{_netloc(host, port)}"
    return GraphTarget("falkordb", uri, user, password, None, host, port, graph)


def _parse_neo4j(url: str, default_graph: str, env: Mapping[str, str]) -> GraphTarget:
    parts, host, port = _split(url, _NEO4J_PORT)
    scheme = parts.scheme.lower()
    if parts.query and scheme not in _ROUTING_SCHEMES:
        raise _bad(url, f"a '?routing' context is only allowed with {', '.join(_ROUTING_SCHEMES)}")
    user, password = _credentials(parts)
    database = unquote(parts.path.strip("/")) or None
    if database is not None and not _DATABASE_NAME.match(database):
        raise _bad(url, f"invalid database name {database!r}")
    user = user if user is not None else (env.get("NEO4J_USERNAME") or None)
    password = password if password is not None else env.get("NEO4J_PASSWORD")
    database = database if database is not None else (env.get("NEO4J_DATABASE") or None)
    uri = f"{scheme}://{_netloc(host, port)}"
    if parts.query:
        uri += f"?{parts.query}"
    return GraphTarget("neo4j", uri, user, password, database, host, port, default_graph)
