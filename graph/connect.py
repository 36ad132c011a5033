"""Turn a graph URL (or the environment) into a connected backend."""

from __future__ import annotations

from graph.backend import GraphBackend
from graph.config import Settings, load_settings
from graph.errors import ConfigError

__all__ = ["connect"]


def connect(url: str | None = None, *, graph_name: str | None = None, settings: Settings | None = None) -> GraphBackend:
    """Connect to ``url`` (``embedded`` by default, else ``falkordb://`` or ``neo4j://``).

    The embedded engine is started on first use and left running for the next command.
    """
    from graph.urls import mask_url, parse_graph_url

    settings = settings or load_settings()
    target = parse_graph_url(url or settings.graph_url, default_graph=graph_name or settings.graph_name)
    name = graph_name or target.graph_name
    if target.kind == "embedded":
        from graph import embedded
        from graph.falkor import FalkorBackend

        server = embedded.start(settings.home, fsync=settings.fsync, omp_threads=settings.omp_threads)
        return FalkorBackend.connect(
            unix_socket_path=str(server.socket),
            password=server.password,
            graph_name=name,
            description=f"embedded engine in {server.home}",
        )
    if target.kind == "falkordb":
        from graph.falkor import FalkorBackend

        return FalkorBackend.connect(
            host=target.host,
            port=target.port,
            password=target.password,
            graph_name=name,
            description=mask_url(url or settings.graph_url),
        )
    if target.kind == "neo4j":
        from graph.neo4j_backend import Neo4jBackend

        return Neo4jBackend.from_target(target)
    raise ConfigError(f"unsupported graph URL: {mask_url(url or '')}")
