"""``c360 schema``: apply and show the uniqueness rules and indexes."""

from __future__ import annotations

import typer

from cli.render import Format, console, render_rows
from cli.state import open_graph
from graph.schema import apply_schema, describe_schema

app = typer.Typer(help="Set up and inspect the graph schema.", no_args_is_help=True)


@app.command("apply")
def apply_cmd(ctx: typer.Context) -> None:
    """Create missing constraints and indexes (safe to run any number of times)."""
    created = apply_schema(open_graph(ctx))
    console.print("schema up to date" + (f"; created: {', '.join(created)}" if created else ""))


@app.command("show")
def show_cmd(ctx: typer.Context, fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """List the indexes and constraints the engine reports."""
    render_rows(describe_schema(open_graph(ctx)), fmt)
