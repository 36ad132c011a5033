"""Idempotent schema set-up: one uniqueness rule per node key, in each engine's own dialect.

Labels and keys come from the fixed table :data:`NODE_KEYS`, never from user input.
"""

from __future__ import annotations

import time
from typing import Any

from graph.backend import GraphBackend
from graph.errors import GraphError

__all__ = [
    "NODE_KEYS",
    "EXTRA_INDEXES",
    "FALKORDB_INDEXES",
    "FALKORDB_LIST_INDEXES",
    "FALKORDB_LIST_CONSTRAINTS",
    "NEO4J_CONSTRAINTS",
    "NEO4J_INDEXES",
    "apply_schema",
    "describe_schema",
    "wait_for_indexes",
    "FALKORDB_INDEX_STATUS",
    "FALKORDB_CONSTRAINT_STATUS",
]

NODE_KEYS: dict[str, str] = {
    "Customer": "customer_id",
    "Person": "person_id",
    "Product": "product_id",
    "Channel": "channel_id",
    "Campaign": "campaign_id",
    "Touch": "touch_id",
    "Transaction": "transaction_id",
    "Interaction": "interaction_id",
    "Ticket": "ticket_id",
    "Preference": "preference_id",
    "Segment": "segment_id",
    "ItemNeighbours": "key",
    "BuildLock": "key",
}
"""Every node label and its business key (data contract keys plus derived nodes)."""

EXTRA_INDEXES: dict[str, str] = {"Ticket": "status"}
"""Non-unique lookups worth an index (open tickets for next best action)."""

FALKORDB_INDEXES: dict[tuple[str, str], str] = {
    (label, prop): f"CREATE INDEX FOR (n:{label}) ON (n.{prop})"
    for label, prop in [*NODE_KEYS.items(), *EXTRA_INDEXES.items()]
}
FALKORDB_LIST_INDEXES = "CALL db.indexes() YIELD label, properties RETURN label, properties"
FALKORDB_INDEX_STATUS = "CALL db.indexes() YIELD label, status RETURN label, status"
FALKORDB_CONSTRAINT_STATUS = "CALL db.constraints() YIELD label, status RETURN label, status"
FALKORDB_LIST_CONSTRAINTS = (
    "CALL db.constraints() YIELD type, label, properties, status RETURN type, label, properties, status"
)

NEO4J_CONSTRAINTS: dict[str, str] = {
    label: f"CREATE CONSTRAINT c360_{label.lower()}_key IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
    for label, prop in NODE_KEYS.items()
}
NEO4J_INDEXES: dict[str, str] = {
    label: f"CREATE INDEX c360_{label.lower()}_{prop} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})"
    for label, prop in EXTRA_INDEXES.items()
}


def apply_schema(graph: GraphBackend) -> list[str]:
    """Create whatever is missing; return what was created (empty when all was there)."""
    if graph.engine == "neo4j":
        for statement in [*NEO4J_CONSTRAINTS.values(), *NEO4J_INDEXES.values()]:
            graph.write(statement)
        return []  # Neo4j's IF NOT EXISTS does not report which ones were new
    return _apply_falkordb(graph)


def _apply_falkordb(graph: Any) -> list[str]:
    created: list[str] = []
    have = {(row["label"], prop) for row in graph.read(FALKORDB_LIST_INDEXES) for prop in row["properties"]}
    for key, statement in FALKORDB_INDEXES.items():
        if key not in have:
            graph.write(statement)
            created.append(f"index {key[0]}.{key[1]}")
    constraints = {
        (row["label"], tuple(row["properties"]))
        for row in graph.read(FALKORDB_LIST_CONSTRAINTS)
        if row["type"] == "UNIQUE" and row["status"] != "FAILED"
    }
    for label, prop in NODE_KEYS.items():
        if (label, (prop,)) in constraints:
            continue
        try:
            graph.execute_command(
                "GRAPH.CONSTRAINT", "CREATE", graph.graph_name, "UNIQUE", "NODE", label, "PROPERTIES", 1, prop
            )
        except GraphError as e:
            if "already exists" not in str(e):
                raise
        created.append(f"unique {label}.{prop}")
    return created


def wait_for_indexes(graph: GraphBackend, *, timeout: float = 3600.0, poll: float = 0.2) -> None:
    """Wait until FalkorDB has built every index and checked every uniqueness rule.

    Indexes created over existing nodes fill in the background; until then queries scan
    labels, so a bulk load waits here before it hands the graph over.
    """
    if graph.engine != "falkordb":
        return
    deadline = time.monotonic() + timeout
    while True:
        pending = [r["label"] for r in graph.read(FALKORDB_INDEX_STATUS) if r["status"] != "OPERATIONAL"]
        pending += [r["label"] for r in graph.read(FALKORDB_CONSTRAINT_STATUS) if r["status"] == "UNDER CONSTRUCTION"]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise GraphError(f"indexes still being built after {timeout:.0f} s: {', '.join(sorted(set(pending)))}")
        time.sleep(poll)


def describe_schema(graph: GraphBackend) -> list[dict[str, Any]]:
    """List indexes and constraints the engine reports, for ``c360 schema show``."""
    if graph.engine == "neo4j":
        return []
    rows = [{"kind": "index", "label": r["label"], "properties": r["properties"]} for r in graph.read(FALKORDB_LIST_INDEXES)]
    rows += [
        {"kind": f"constraint {r['type'].lower()} ({r['status'].lower()})", "label": r["label"], "properties": r["properties"]}
        for r in graph.read(FALKORDB_LIST_CONSTRAINTS)
    ]
    return rows
