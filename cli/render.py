"""Print rows as a readable table, JSON or CSV: one place for every command's output."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["Format", "render_rows", "to_json", "console"]

console = Console()


class Format(str, Enum):
    """Output formats every reporting command accepts."""

    table = "table"
    json = "json"
    csv = "csv"


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def to_json(data: Any, *, indent: int | None = None) -> str:
    """JSON text with dates as ISO strings and NaN as null."""
    return json.dumps(_clean(data), default=_default, indent=indent, ensure_ascii=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return to_json(value)
    return str(value)


def render_rows(
    rows: Sequence[dict[str, Any]],
    fmt: Format | str = Format.table,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Print ``rows`` in ``fmt``; JSON and CSV go to stdout unstyled so they can be piped."""
    fmt = Format(fmt)
    cols = list(columns or _columns(rows))
    if fmt is Format.json:
        print(to_json([{c: r.get(c) for c in cols} for r in rows] if columns else list(rows)))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        for r in rows:
            writer.writerow([_csv_cell(r.get(c)) for c in cols])
        print(buf.getvalue(), end="")
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(_cell(r.get(c)) for c in cols))
    console.print(table)
    if not rows:
        console.print("[dim](no rows)[/dim]")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return to_json(value)
    return "" if value is None else value


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)
