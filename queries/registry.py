"""Find every Cypher statement the package can send, so tests can lint and execute all of them.

A statement is an UPPER_CASE module-level constant in ``graph/`` or ``queries/`` that is a
string starting with a Cypher clause, or a dict/tuple of such strings, or a ``.cypher`` file
in ``queries/``. Statements meant for one engine only are listed in :data:`ENGINE_ONLY`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

__all__ = ["all_statements", "falkordb_statements", "neo4j_statements", "ENGINE_ONLY"]

_PACKAGES = ("graph", "queries")
_CLAUSE = re.compile(r"^\s*(MATCH|OPTIONAL|MERGE|UNWIND|CREATE|CALL|RETURN|WITH|DELETE|DETACH|SET|REMOVE|FOREACH)\b")

ENGINE_ONLY: dict[str, str] = {
    "graph.schema.NEO4J_CONSTRAINTS": "neo4j",
    "graph.schema.NEO4J_INDEXES": "neo4j",
    "graph.schema.FALKORDB_INDEXES": "falkordb",
    "graph.schema.FALKORDB_LIST_INDEXES": "falkordb",
    "graph.schema.FALKORDB_LIST_CONSTRAINTS": "falkordb",
    "graph.schema.FALKORDB_INDEX_STATUS": "falkordb",
    "graph.schema.FALKORDB_CONSTRAINT_STATUS": "falkordb",
    **{
        f"queries.analytics_io.{name}": "neo4j"  # Neo4j Graph Data Science, behind --engine gds
        for name in (
            "GDS_VERSION", "GDS_PROJECT_INFLUENCE", "GDS_PAGERANK", "GDS_PROJECT_PURCHASES",
            "GDS_NODE_SIMILARITY", "GDS_PROJECT_SIMILAR", "GDS_LOUVAIN", "GDS_DROP",
        )
    },
}
"""Qualified constant name (or its prefix, for dicts) -> the only engine it is sent to."""


def _modules() -> list[str]:
    names = []
    for pkg in _PACKAGES:
        module = importlib.import_module(pkg)
        names.append(pkg)
        for info in pkgutil.iter_modules(module.__path__):
            names.append(f"{pkg}.{info.name}")
    return names


def all_statements() -> dict[str, str]:
    """Qualified name -> statement text, for every statement in the package."""
    found: dict[str, str] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if not attr.isupper() or attr.startswith("_"):
                continue
            qual = f"{name}.{attr}"
            if isinstance(value, str) and _CLAUSE.match(value):
                found[qual] = value
            elif isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, str) and _CLAUSE.match(item):
                        found[f"{qual}[{key!r}]"] = item
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    if isinstance(item, str) and _CLAUSE.match(item):
                        found[f"{qual}[{i}]"] = item
    for path in sorted(Path(__file__).parent.glob("*.cypher")):
        found[f"queries/{path.name}"] = path.read_text()
    return found


def _engine(qual: str) -> str | None:
    for prefix, engine in ENGINE_ONLY.items():
        if qual == prefix or qual.startswith(prefix + "["):
            return engine
    return None


def falkordb_statements() -> dict[str, str]:
    """Statements sent to FalkorDB (all but the Neo4j-only ones)."""
    return {q: s for q, s in all_statements().items() if _engine(q) in (None, "falkordb")}


def neo4j_statements() -> dict[str, str]:
    """Statements sent to Neo4j (all but the FalkorDB-only ones)."""
    return {q: s for q, s in all_statements().items() if _engine(q) in (None, "neo4j")}
