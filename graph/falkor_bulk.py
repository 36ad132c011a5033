"""Build a new FalkorDB graph with ``GRAPH.BULK``, the engine's binary loader.

``GRAPH.BULK`` only creates graphs: its first command must say ``BEGIN`` and the key must not
exist. Nodes get internal ids 0, 1, 2 ... in the order they are sent, so edges name their
ends by those ids and no index lookup is needed. The graph is built under a staging name and
renamed to the target's name only when complete, so a build that dies leaves the target as it was.

Wire format (docs.falkordb.com/design/bulk-spec): ``GRAPH.BULK name [BEGIN] nodes edges
labels reltypes blob...``; a blob is ``name\\0`` ``uint32 property count`` ``prop\\0``...
then, per entity (edges first carry ``uint64 src, uint64 dst``), one typed value per
property: a type byte (0 null = property absent, 1 bool, 2 double, 3 string, 4 long) and
the value, strings NUL-terminated. Labels, types and property names come from our own fixed
tables and the input's header, never from cell values.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np

from graph.errors import GraphError

__all__ = ["BulkGraphBuilder", "encode_values"]

_NULL = b"\x00"
_TRUE = struct.pack("=B?", 1, True)
_FALSE = struct.pack("=B?", 1, False)
_DOUBLE = struct.Struct("=Bd").pack
_LONG = struct.Struct("=Bq").pack
_EDGE_DTYPE = np.dtype([("src", "<u8"), ("dst", "<u8")])
_MAX_COMMAND_BYTES = 256 * 1024 * 1024  # well under Redis's 512 MB argument limit


def _encode_one(value: Any) -> bytes:
    if value is None:
        return _NULL
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise GraphError(f"a text value contains a NUL character, which FalkorDB's bulk format cannot carry: {value[:40]!r}")
        return b"\x03" + value.encode("utf-8", "surrogateescape") + _NULL
    if kind is bool or isinstance(value, np.bool_):
        return _TRUE if value else _FALSE
    if kind is int or isinstance(value, np.integer):
        return _LONG(4, int(value))
    if kind is float or isinstance(value, np.floating):
        if math.isnan(value):
            return _NULL
        if math.isinf(value):
            raise GraphError(f"cannot store a non-finite number ({value}) in the graph")
        return _DOUBLE(2, float(value))
    raise GraphError(f"cannot bulk-load a value of type {kind.__name__}")


def encode_values(values: Sequence[Any]) -> list[bytes]:
    """One column's values as typed binary properties (None and NaN: the property is absent)."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds == {str}:
        encoded = [b"\x03" + v.encode("utf-8", "surrogateescape") + _NULL if v is not None else _NULL for v in values]
        if b"".join(encoded).count(_NULL) == len(encoded):  # else a NUL inside a value: the slow path names it
            return encoded
    elif kinds == {int}:
        return [_LONG(4, v) if v is not None else _NULL for v in values]
    elif kinds == {float} and not any(map(math.isinf, filter(None, values))):
        return [_DOUBLE(2, v) if v is not None and v == v else _NULL for v in values]
    # one comprehension per column above; mixed, numpy or unusual values go one by one
    return [_encode_one(v) for v in values]


def _header(name: str, props: Sequence[str]) -> bytes:
    for text in (name, *props):
        if not text or "\x00" in text:
            raise GraphError(f"cannot bulk-load a label, type or property named {text!r}")
    return (
        name.encode() + _NULL + struct.pack("=I", len(props)) + b"".join(p.encode("utf-8", "surrogateescape") + _NULL for p in props)
    )


class BulkGraphBuilder:
    """Encodes nodes and edges for ``GRAPH.BULK`` and sends them, in order, to a staging graph.

    ``add_nodes`` returns the id of the first node it adds (the rest follow in order).
    ``take`` detaches what is queued as ready commands, so one thread can encode the next
    batch while another ``send``s this one; commands must be sent in the order taken, since
    node ids are counted here. ``finish`` renames the staging graph to the target's name.
    """

    def __init__(
        self, backend: Any, staging: str, *, command_bytes: int = 64 * 1024 * 1024, ttl_seconds: int = 3600
    ) -> None:
        self._backend = backend
        self.staging = staging
        self._ttl = ttl_seconds
        self._command_bytes = min(command_bytes, _MAX_COMMAND_BYTES)
        self._begun = False
        self._expiry_set_at = 0.0
        self.next_id = 0
        self._queued: list[tuple[bool, bytes, int]] = []  # (is a node blob, blob, entity count), in order

    def add_nodes(self, label: str, columns: Mapping[str, Sequence[Any]], count: int) -> int:
        """Queue ``count`` nodes of ``label``; ``columns`` maps property name -> values (None: absent)."""
        first = self.next_id
        if count == 0:
            return first
        names = list(columns)
        encoded = [encode_values(columns[name]) for name in names]
        for name, values in zip(names, encoded):
            if len(values) != count:
                raise GraphError(f"bulk load: column {name!r} has {len(values)} values for {count} nodes")
        header = _header(label, names)
        if len(header) + sum(sum(map(len, values)) for values in encoded) <= self._command_bytes:
            self._queue(True, header + b"".join(chain.from_iterable(zip(*encoded))), count)
            self.next_id += count
            return first
        rows = [b"".join(row) for row in zip(*encoded)] if encoded else [b""] * count
        part: list[bytes] = []
        size = len(header)
        for row in rows:  # one blob per command-sized run of rows (large text cells)
            if part and size + len(row) > self._command_bytes:
                self._queue(True, header + b"".join(part), len(part))
                part, size = [], len(header)
            part.append(row)
            size += len(row)
        self._queue(True, header + b"".join(part), len(part))
        self.next_id += count
        return first

    def add_edges(
        self, reltype: str, src: np.ndarray, dst: np.ndarray, props: Mapping[str, Sequence[Any]] | None = None
    ) -> None:
        """Queue edges ``src[i] -> dst[i]`` (node ids) of ``reltype``, with optional properties."""
        if len(src) != len(dst):
            raise GraphError("bulk load: edge ends differ in length")
        if len(src) == 0:
            return
        ends = np.empty(len(src), dtype=_EDGE_DTYPE)
        ends["src"] = src
        ends["dst"] = dst
        names = list(props or {})
        if names:
            raw = ends.tobytes()
            pairs = [raw[i : i + 16] for i in range(0, len(raw), 16)]
            encoded = [encode_values(props[name]) for name in names]  # type: ignore[index]
            body = b"".join(chain.from_iterable(zip(pairs, *encoded)))
        else:
            body = ends.tobytes()
        self._queue(False, _header(reltype, names) + body, len(src))

    def _queue(self, is_node: bool, blob: bytes, count: int) -> None:
        if len(blob) > _MAX_COMMAND_BYTES:
            raise GraphError("bulk load: one row is too large for a single command")
        self._queued.append((is_node, blob, count))

    def take(self) -> list[list[Any]]:
        """Detach what is queued as ``GRAPH.BULK`` commands (nodes before the edges that use them)."""
        commands: list[list[Any]] = []
        part: list[tuple[bool, bytes, int]] = []
        size = 0
        for item in self._queued + [(False, b"", -1)]:
            if part and (item[2] < 0 or size + len(item[1]) > self._command_bytes):
                labels = [b for is_node, b, _ in part if is_node]
                reltypes = [b for is_node, b, _ in part if not is_node]
                nodes = sum(n for is_node, _, n in part if is_node)
                edges = sum(n for is_node, _, n in part if not is_node)
                commands.append([nodes, edges, len(labels), len(reltypes), *labels, *reltypes])
                part, size = [], 0
            part.append(item)
            size += len(item[1])
        self._queued = []
        return commands

    def begin(self) -> None:
        """Create the (empty) staging graph now, so indexes can be made on it before nodes arrive.

        The staging graph expires ``ttl_seconds`` after the last batch, so one left by a build
        that died goes away by itself; ``finish`` makes it permanent.
        """
        if not self._begun:
            self._backend.execute_command("GRAPH.BULK", self.staging, "BEGIN", 0, 0, 0, 0)
            self._begun = True
            self._touch()

    def _touch(self) -> None:
        # each command is an fsync with appendfsync always, so the expiry moves once a minute
        if time.monotonic() - self._expiry_set_at > 60:
            self._backend.execute_command("EXPIRE", self.staging, self._ttl)
            self._expiry_set_at = time.monotonic()

    def send(self, commands: list[list[Any]]) -> None:
        """Send commands from :meth:`take`, in order."""
        self.begin()
        for command in commands:
            self._backend.execute_command("GRAPH.BULK", self.staging, *command)
        self._touch()

    def flush(self) -> None:
        """Send everything queued."""
        self.send(self.take())

    def discard(self) -> None:
        """Delete the staging graph (this build's, abandoned)."""
        self._backend.execute_command("DEL", self.staging)

    def finish(self, target: str, target_is_empty: Callable[[], bool], *, attempts: int = 20) -> bool:
        """Send the rest and rename the staging graph to ``target`` if that is still empty.

        The check and the rename are one optimistic transaction: ``WATCH target``, check,
        ``MULTI``/``RENAME``/``EXEC``. The engine marks the key modified on every write, so a
        write that lands after the check aborts the rename and the check runs again. A reader
        that creates the empty graph meanwhile only costs a retry. False when the target
        holds data; the staging graph is then left as it is.
        """
        import redis

        self.flush()
        self._backend.execute_command("PERSIST", self.staging)
        for _ in range(attempts):
            with self._backend.client.connection.pipeline() as pipe:
                try:
                    pipe.watch(target)
                    if not target_is_empty():
                        return False
                    pipe.multi()
                    pipe.execute_command("RENAME", self.staging, target)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue
        raise GraphError(f"graph {target!r} kept changing while the bulk build tried to take its place; load again")
