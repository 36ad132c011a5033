"""The ``c360`` command: a thin layer that parses options, calls one library function and renders."""

from __future__ import annotations

import sys
import traceback

import typer

from cli import cypher as cypher_cmd
from cli import db, schema
from cli.state import state
from graph.errors import C360Error

app = typer.Typer(
    name="c360",
    help="A 360-degree customer view on a graph database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    graph: str = typer.Option(None, "--graph", envvar="C360_GRAPH_URL", help="embedded (default), falkordb://host:port/graph or neo4j://user:pass@host/db"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks on errors."),
) -> None:
    st = state(ctx)
    st.graph_url = graph
    st.verbose = verbose


app.add_typer(db.app, name="db")
app.add_typer(schema.app, name="schema")
app.command("cypher")(cypher_cmd.cypher)

_EXTRA_COMMANDS = ("cli.load_cmd", "cli.view_cmd", "cli.clv_cmd", "cli.analytics_cmd", "cli.recommend_cmd", "cli.serve_cmd", "cli.demo_cmd")


def _register_extras() -> None:
    import importlib

    for name in _EXTRA_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(app)


_register_extras()


def main(argv: list[str] | None = None) -> int:
    """Entry point: domain errors become one line on stderr (with --verbose, the traceback too)."""
    verbose = "--verbose" in (argv or sys.argv) or "-v" in (argv or sys.argv)
    try:
        app(args=argv, standalone_mode=False)
    except C360Error as e:
        if verbose:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:
        return int(e.code or 0)
    except Exception as e:  # noqa: BLE001 - last resort: a message, not a traceback
        # typer may bundle its own copy of click, so its usage errors are matched by class name
        kinds = {cls.__name__ for cls in type(e).__mro__}
        if "ClickException" in kinds:
            e.show()  # type: ignore[attr-defined]
            return int(getattr(e, "exit_code", 2))
        if "Abort" in kinds:
            print("aborted", file=sys.stderr)
            return 1
        if verbose:
            traceback.print_exc()
        print(f"error: unexpected {type(e).__name__}: {e} (run with --verbose for details)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s status."""
    sys.exit(main())
