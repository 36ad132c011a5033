"""Test helper: the whole graph as comparable Python sets (test-only Cypher lives here)."""

from __future__ import annotations

import json

from graph.schema import NODE_KEYS

NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"
EDGES = (
    "MATCH (a)-[r]->(b) RETURN labels(a)[0] AS a_label, properties(a) AS a, type(r) AS type, "
    "properties(r) AS props, labels(b)[0] AS b_label, properties(b) AS b"
)


def _edge(row: dict) -> dict:
    return {
        "a": (row["a_label"], row["a"].get(NODE_KEYS[row["a_label"]])),
        "type": row["type"],
        "props": row["props"],
        "b": (row["b_label"], row["b"].get(NODE_KEYS[row["b_label"]])),
    }


def _freeze(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def snapshot(graph, *, skip_props: frozenset[str] = frozenset()) -> tuple[frozenset, frozenset]:
    """(nodes, edges) as frozensets of JSON texts; identical graphs give equal snapshots."""
    nodes = frozenset(
        _freeze([sorted(r["labels"]), {k: v for k, v in r["props"].items() if k not in skip_props}])
        for r in graph.read(NODES)
    )
    edge_rows = [_freeze(_edge(r)) for r in graph.read(EDGES)]
    assert len(edge_rows) == len(set(edge_rows)), "parallel duplicate edges found"
    return nodes, frozenset(edge_rows)


def count_edges(graph) -> int:
    """Number of relationships (by variable, so parallel edges count)."""
    return graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
