"""Options shared by every command (--graph, --verbose) and the one place a backend is opened."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from graph.backend import GraphBackend

__all__ = ["State", "state", "open_graph"]


@dataclass
class State:
    """What the top-level callback parsed."""

    graph_url: str | None = None
    verbose: bool = False
    _graph: GraphBackend | None = field(default=None, repr=False)


def state(ctx: typer.Context) -> State:
    """The shared state of this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def open_graph(ctx: typer.Context, *, schema: bool = False) -> GraphBackend:
    """Connect once per invocation to the chosen backend; close it when the command ends."""
    from graph.connect import connect

    st = state(ctx)
    if st._graph is None:
        st._graph = connect(st.graph_url)
        ctx.find_root().call_on_close(st._graph.close)
        if schema:
            from graph.schema import apply_schema

            apply_schema(st._graph)
    return st._graph
