"""``c360 cypher``: run any Cypher on the chosen backend, for analysts."""

from __future__ import annotations

import json

import typer

from cli.render import Format, render_rows
from cli.state import open_graph
from graph.errors import ConfigError

__all__ = ["cypher", "parse_param"]


def parse_param(text: str) -> tuple[str, object]:
    """``k=v``: v is read as JSON when it parses (numbers, true, lists), else kept as text."""
    if "=" not in text:
        raise ConfigError(f"--param needs key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise ConfigError(f"--param name {key!r} is not a valid parameter name")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def cypher(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The Cypher statement; pass values as $names with --param."),
    param: list[str] = typer.Option([], "--param", "-p", help="A parameter as key=value (value parsed as JSON when it can be)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
    write: bool = typer.Option(True, "--write/--read-only", help="Allow writes (default) or refuse them."),
) -> None:
    """Run a Cypher statement and print its rows."""
    params = dict(parse_param(p) for p in param)
    graph = open_graph(ctx)
    rows = graph.write(query, params) if write else graph.read(query, params)
    render_rows(rows, fmt)
