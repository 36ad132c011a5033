"""Turn values returned by the graph drivers into plain Python values.

Why: everything above ``graph/`` (queries, CLI, API, analytics) must see the same
dicts, lists, str, int, float, bool and None whichever engine answered, so results can be
JSON-encoded and compared across engines.

Rules (both the ``neo4j`` driver and the ``falkordb`` client):

- node or relationship -> ``dict`` of its properties (labels, types and internal ids are
  dropped on purpose: the package joins on business keys only);
- path -> ``list`` of node property dicts, in path order;
- dates, times and datetimes -> ISO 8601 text (``date.isoformat()`` style, so at most
  microsecond precision); durations -> ISO 8601 duration text (``P1Y2M3DT4H5M6S``);
- spatial points -> ``dict`` of coordinates;
- lists, tuples and maps -> converted recursively.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

__all__ = ["to_plain", "record_to_dict"]

try:  # the neo4j driver is a hard dependency, but keep this module importable without it
    from neo4j import graph as _neo4j_graph
    from neo4j import spatial as _neo4j_spatial
    from neo4j import time as _neo4j_time
except ImportError:  # pragma: no cover
    _neo4j_graph = _neo4j_spatial = _neo4j_time = None  # type: ignore[assignment]

try:
    from falkordb.edge import Edge as _FalkorEdge
    from falkordb.node import Node as _FalkorNode
    from falkordb.path import Path as _FalkorPath
except ImportError:  # pragma: no cover
    _FalkorEdge = _FalkorNode = _FalkorPath = None  # type: ignore[assignment,misc]

_PLAIN_SCALARS = (str, int, float, bool, type(None))


def to_plain(value: Any) -> Any:
    """Return ``value`` converted to plain Python (see the module docstring for the rules).

    >>> to_plain({"a": [1, (2, 3)], "b": None})
    {'a': [1, [2, 3]], 'b': None}
    """
    if isinstance(value, _PLAIN_SCALARS):
        return value
    # driver types first: neo4j Duration and Point are tuple subclasses
    converted = _temporal(value)
    if converted is not None:
        return converted
    if _neo4j_spatial is not None and isinstance(value, _neo4j_spatial.Point):
        return _point(value)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if _neo4j_graph is not None:
        if isinstance(value, (_neo4j_graph.Node, _neo4j_graph.Relationship)):
            return {k: to_plain(v) for k, v in value.items()}
        if isinstance(value, _neo4j_graph.Path):
            return [to_plain(node) for node in value.nodes]
    if _FalkorNode is not None:
        if isinstance(value, (_FalkorNode, _FalkorEdge)):
            return {k: to_plain(v) for k, v in (value.properties or {}).items()}
        if isinstance(value, _FalkorPath):
            return [to_plain(node) for node in value.nodes()]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if hasattr(value, "tolist"):  # numpy scalars and arrays (FalkorDB vectors)
        return to_plain(value.tolist())
    raise TypeError(f"cannot convert a {type(value).__name__} returned by the graph to plain Python")


def record_to_dict(record: Any) -> dict[str, Any]:
    """Convert one result row (a ``neo4j.Record`` or any ``(key, value)`` mapping)."""
    return {key: to_plain(val) for key, val in record.items()}


def _temporal(value: Any) -> str | None:
    """ISO text for temporal values of either driver, ``None`` if ``value`` is not one."""
    if _neo4j_time is not None:
        if isinstance(value, _neo4j_time.Duration):
            return value.iso_format()
        if isinstance(value, (_neo4j_time.DateTime, _neo4j_time.Date, _neo4j_time.Time)):
            return value.to_native().isoformat()
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return _iso_duration(0, value.days, value.seconds, value.microseconds * 1000)
    if type(value).__name__ == "relativedelta":  # FalkorDB durations (dateutil)
        months = value.years * 12 + value.months
        seconds = value.hours * 3600 + value.minutes * 60 + value.seconds
        return _iso_duration(months, value.days, seconds, value.microseconds * 1000)
    return None


def _iso_duration(months: int, days: int, seconds: int, nanoseconds: int) -> str:
    """Format like ``neo4j.time.Duration.iso_format`` so both engines print the same text."""
    if _neo4j_time is not None:
        return _neo4j_time.Duration(
            months=months, days=days, seconds=seconds, nanoseconds=nanoseconds
        ).iso_format()
    return f"P{months}M{days}DT{seconds + nanoseconds / 1e9:g}S"  # pragma: no cover


def _point(value: Any) -> dict[str, float]:
    names = ("longitude", "latitude", "height") if value.srid in (4326, 4979) else ("x", "y", "z")
    return {name: float(coord) for name, coord in zip(names, value, strict=False)}
