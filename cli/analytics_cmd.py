"""``c360 influence``, ``c360 lookalike`` and ``c360 segments``: graph analytics from the command line."""

from __future__ import annotations

import csv
from enum import Enum
from pathlib import Path

import typer

from cli.render import Format, console, render_rows
from cli.state import open_graph
from graph.errors import InputError

__all__ = ["Engine", "register", "influence", "lookalike", "segments_app", "read_seed_file"]



class Engine(str, Enum):
    """Where PageRank runs."""

    auto = "auto"
    networkx = "networkx"
    gds = "gds"


segments_app = typer.Typer(help="Look-alike segments (Louvain on the similarity graph).", no_args_is_help=True)

_INFLUENCE_COLUMNS = {
    "rank": "rank",
    "customer": "customer_id",
    "name": "name",
    "score": "score",
    "direct reach": "reach_direct",
    "total reach": "reach_total",
    "referred revenue": "referred_revenue",
    "segment": "segment_id",
}


def influence(
    ctx: typer.Context,
    top: int = typer.Option(20, "--top", "-n", min=1, help="How many customers to show (all are scored)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
    plot: Path = typer.Option(None, "--plot", help="Also write a PNG chart of the top influencers here."),
    engine: Engine = typer.Option(Engine.auto, "--engine", help="auto (gds when available), networkx or gds (Neo4j Graph Data Science)."),
) -> None:
    """Score every customer's influence (PageRank + referral reach), store the scores and show the top."""
    from analytics.pipeline import influence_report

    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError(f"--plot writes a PNG: give a file name ending in .png, not {plot.name!r}")
    graph = open_graph(ctx)
    report = influence_report(graph, top=top, engine=engine.value, plot=plot)
    rows = [{label: rec.get(col) for label, col in _INFLUENCE_COLUMNS.items()} for rec in report.to_dict("records")]
    if fmt is not Format.table:
        rows = [{col: rec.get(col) for col in _INFLUENCE_COLUMNS.values()} for rec in report.to_dict("records")]
        render_rows(rows, fmt)
        return
    render_rows(rows, fmt, title="Most influential customers")
    t = report.attrs.get("timings", {})
    console.print(
        f"scored {report.attrs.get('customers', 0):,} customers with {report.attrs.get('engine')}; "
        f"read {t.get('read', 0):.1f}s, compute {t.get('compute', 0):.1f}s, write {t.get('write', 0):.1f}s"
    )
    if plot is not None:
        console.print(f"chart written to {plot}")


def read_seed_file(path: Path) -> list[str]:
    """Customer ids from a file: one per line, or a CSV whose header has a ``customer_id`` column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(f"cannot read the seed file {path}: {e.strerror}") from e
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(f"the seed file {path} has no customer ids")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if "customer_id" in header:
        col = header.index("customer_id")
        ids = [row[col].strip() for row in csv.reader(lines[1:]) if len(row) > col and row[col].strip()]
    elif len(header) > 1:
        raise InputError(f"the seed file {path} looks like a CSV but has no customer_id column")
    else:
        ids = [line.strip() for line in lines]
    if not ids:
        raise InputError(f"the seed file {path} has no customer ids")
    return ids


def lookalike(
    ctx: typer.Context,
    customer_id: str = typer.Argument(None, help="The customer to find look-alikes of."),
    k: int = typer.Option(10, "--k", "-k", min=1, help="How many look-alikes."),
    seed_file: Path = typer.Option(None, "--seed-file", help="Expand an audience instead: one customer id per line, or a CSV with a customer_id column."),
    size: int = typer.Option(100, "--size", min=1, help="Audience size for --seed-file."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Customers who buy and browse like CUSTOMER_ID, with the shared products that explain it.

    With --seed-file instead: the best look-alike audience of --size customers for a list of customers.
    """
    from analytics.pipeline import expand_seed, lookalikes

    if (customer_id is None) == (seed_file is None):
        raise InputError("give either a customer id or --seed-file FILE (not both)")
    graph = open_graph(ctx)
    if seed_file is not None:
        seeds = read_seed_file(seed_file)
        audience = expand_seed(graph, seeds, size=size)
        render_rows(audience.to_dict("records"), fmt, title=f"Look-alike audience of {len(seeds):,} seed customers",
                    columns=["customer_id", "score", "nearest_seed"])
        return
    rows = lookalikes(graph, customer_id, k=k)
    render_rows(rows, fmt, title=f"Customers like {customer_id}", columns=["customer_id", "score", "shared", "why"])


@segments_app.command("build")
def segments_build(
    ctx: typer.Context,
    resolution: float = typer.Option(1.0, "--resolution", min=0.0, help="Louvain resolution: higher gives more, smaller segments."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same segments)."),
    k: int = typer.Option(20, "--k", "-k", min=1, help="Look-alikes per customer in the similarity graph."),
    similar: bool = typer.Option(True, "--similar/--no-similar", help="Also store the look-alike pairs as SIMILAR_TO edges (used by recommendations)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Compute look-alike segments and store them (replaces earlier segments)."""
    from analytics.pipeline import build_segments

    graph = open_graph(ctx)
    summary = build_segments(graph, resolution=resolution, seed=seed, k=k, store_similar=similar)
    render_rows(summary.to_dict("records"), fmt, title="Segments written")


@segments_app.command("list")
def segments_list(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Show the stored segments."""
    from analytics.pipeline import list_segments

    graph = open_graph(ctx)
    rows = list_segments(graph)
    render_rows(rows, fmt, title="Segments", columns=["segment_id", "size", "avg_value", "churn_risk", "top_products", "description"])
    if fmt is Format.table and not rows:
        console.print("no segments yet: run `c360 segments build`")


def register(app: typer.Typer) -> None:
    """Add ``influence``, ``lookalike`` and the ``segments`` group to the main app."""
    app.command("influence")(influence)
    app.command("lookalike")(lookalike)
    app.add_typer(segments_app, name="segments")
