"""First load into an empty FalkorDB graph: validated batches become ``GRAPH.BULK`` commands.

The Cypher path looks up every edge's ends in an index; here the loader remembers the
internal id of each node it created, so an edge costs 16 bytes and no lookup. The node and
edge plan is the Cypher statements' own (:data:`queries.load.NODE_PLAN`), so both paths write
the same graph (a test compares them). The build goes to a staging graph of its own, renamed
to the target's name at the end only if the target is still empty (checked and renamed in one
optimistic transaction): a load killed halfway
leaves the target empty and the next run builds again; a load that finds the target filled
meanwhile (another writer) reloads through Cypher. Later loads into the filled graph take the
Cypher path (``MERGE``), which is what makes re-runs and incremental folders safe.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from graph.errors import GraphError
from graph.falkor_bulk import BulkGraphBuilder
from graph.schema import apply_schema, wait_for_indexes
from loaders.contract import INFLUENCE_TYPES, FileSpec
from loaders.validate import Validated
from queries.load import GRAPH_IS_EMPTY, NODE_PLAN

__all__ = ["BulkSink", "TargetTaken", "bulk_possible", "STAGING_INFIX"]

STAGING_INFIX = ".c360-bulk."
"""A staging graph is named target + this + a random suffix (one per load, so two loads never
share one); it expires an hour after its last batch if its load dies."""


class TargetTaken(GraphError):
    """Data reached the target graph while the bulk build ran; the load has to go through Cypher."""

_REFERENCED = {"Customer", "Product", "Channel", "Campaign", "Ticket"}  # labels other rows link to
_REFERRAL_PROPS = ("kind", "occurred_at", "ts")


def bulk_possible(graph: Any) -> str | None:
    """Why the bulk path cannot be used on ``graph`` (None when it can)."""
    if getattr(graph, "engine", None) != "falkordb" or not hasattr(graph, "sibling"):
        return "the bulk build needs FalkorDB (Neo4j loads with batched Cypher)"
    rows = graph.read(GRAPH_IS_EMPTY)
    if rows and rows[0]["nodes"] > 0:
        return "the graph already holds data (the bulk build only creates new graphs)"
    return None


def _values(column: pd.Series) -> list:
    """Plain Python values, None for empty cells (what the Cypher path sends as parameters)."""
    if column.dtype == object:
        return column.tolist()  # validation's text and number columns: None already marks empty cells
    return column.astype(object).where(column.notna(), None).tolist()


class _KeyIds:
    """Business key -> internal node id for one label, looked up a whole column at a time."""

    def __init__(self) -> None:
        self._keys: list[pd.Index] = []
        self._firsts: list[int] = []
        self._index: pd.Index | None = None
        self._ids: np.ndarray = np.empty(0, dtype=np.int64)

    def add(self, keys: pd.Series, first: int) -> None:
        """Nodes with ``keys`` got ids ``first``, ``first + 1`` ..."""
        self._keys.append(pd.Index(keys.to_numpy(dtype=object), dtype=object))
        self._firsts.append(first)
        self._index = None

    def find(self, keys: pd.Series) -> np.ndarray:
        """Ids of ``keys``; -1 for a key not added (or an empty cell)."""
        if not self._keys:
            return np.full(len(keys), -1, dtype=np.int64)
        if self._index is None:
            known = np.concatenate([k.to_numpy() for k in self._keys])
            self._index = pd.Index(known, dtype=object)  # object, not pandas' Arrow strings: the cells are objects
            self._ids = np.concatenate([np.arange(f, f + len(k), dtype=np.int64) for f, k in zip(self._firsts, self._keys)])
        at = self._index.get_indexer(pd.Index(keys.to_numpy(dtype=object), dtype=object))  # no Arrow round trip
        return np.where(at >= 0, self._ids[at], -1)


class BulkSink:
    """Receives each file's validated batches in load order and builds the graph from them."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.builder = BulkGraphBuilder(graph, graph.graph_name + STAGING_INFIX + uuid.uuid4().hex[:12])
        # indexes made on the empty staging graph are kept up by every bulk command, on the
        # engine's own thread, while this process validates the next batch
        self.builder.begin()
        apply_schema(graph.sibling(self.builder.staging))
        self.ids = {label: _KeyIds() for label in _REFERENCED}
        self.finish_seconds = 0.0

    def _lookup(self, label: str, keys: pd.Series) -> np.ndarray:
        """Node ids of ``keys`` (-1 where the key is empty or was not loaded)."""
        return self.ids[label].find(keys)

    def stage(self, spec: FileSpec, checked: Validated) -> Callable[[], None]:
        """Encode one validated batch of ``spec``'s file now; the returned call sends it (and,
        with ``appendfsync always``, it is on disk when that returns). Calls run in order."""
        if not checked.props.empty:
            self._queue(spec, checked.props)
        return partial(self.builder.send, self.builder.take())

    def _queue(self, spec: FileSpec, props: pd.DataFrame) -> None:
        if spec.name == "referrals":
            self._referrals(props)
            return
        label, key, edge, links = NODE_PLAN[spec.name]
        mandatory: list[tuple[str, np.ndarray, bool]] = []  # (type, ids of the other end, node is source)
        if edge:
            mandatory.append((edge, self._lookup("Customer", props["customer_id"]), False))
        if spec.name == "campaign_touches":
            mandatory.append(("OF", self._lookup("Campaign", props["campaign_id"]), True))
        keep = np.ones(len(props), dtype=bool)
        for _rel, ends, _ in mandatory:
            keep &= ends >= 0  # the Cypher path's MATCH drops such a row; validation rejects it first
        if not keep.all():
            props = props[keep]
            mandatory = [(rel, ends[keep], out) for rel, ends, out in mandatory]
        count = len(props)
        first = self.builder.add_nodes(label, {c: _values(props[c]) for c in props.columns}, count)
        new_ids = np.arange(first, first + count, dtype=np.int64)
        if label in self.ids:
            self.ids[label].add(props[key], first)
        for rel, ends, node_is_source in mandatory:
            if node_is_source:
                self.builder.add_edges(rel, new_ids, ends)
            else:
                self.builder.add_edges(rel, ends, new_ids)
        for target_label, _target_key, col, rel in links:
            if col not in props.columns:
                continue
            ends = self._lookup(target_label, props[col])
            found = ends >= 0
            self.builder.add_edges(rel, new_ids[found], ends[found])

    def _referrals(self, props: pd.DataFrame) -> None:
        src = self._lookup("Customer", props["from_customer_id"])
        dst = self._lookup("Customer", props["to_customer_id"])
        found = (src >= 0) & (dst >= 0)
        rows = props[found]
        src, dst = src[found], dst[found]
        for kind, rel in INFLUENCE_TYPES.items():
            of_kind = (rows["kind"] == kind).to_numpy()
            if of_kind.any():
                part = rows[of_kind]
                edge_props = {c: _values(part[c]) for c in _REFERRAL_PROPS if c in part.columns}
                self.builder.add_edges(rel, src[of_kind], dst[of_kind], edge_props)

    def finish(self) -> None:
        """Send the rest and give the staging graph the target's name; :class:`TargetTaken` when
        the target received data meanwhile (nothing is overwritten)."""
        started = time.perf_counter()
        if not self.builder.finish(self.graph.graph_name, lambda: bulk_possible(self.graph) is None):
            raise TargetTaken(f"graph {self.graph.graph_name!r} received data during the bulk build")
        self.graph.forget_schema()
        apply_schema(self.graph)  # nothing to do unless the schema table grew meanwhile
        wait_for_indexes(self.graph)
        self.finish_seconds = time.perf_counter() - started

    def abandon(self) -> None:
        """Drop the staging graph after a failure (best effort: it expires anyway)."""
        try:
            self.builder.discard()
        except GraphError:
            pass
