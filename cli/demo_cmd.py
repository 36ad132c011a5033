"""``c360 demo``: the quick start's main job, end to end on the embedded engine."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.render import Format, console
from cli.state import open_graph, state
from graph.errors import NotFoundError

__all__ = ["register", "demo"]


def demo(
    ctx: typer.Context,
    data: Path = typer.Option(Path("c360-sample"), "--data", help="Where the sample data set is written (kept for you to look at)."),
    customers: int = typer.Option(3000, "--customers", "-n", min=100, help="Source accounts to generate."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the sample data."),
    plot: Path = typer.Option(Path("c360-sample/influencers.png"), "--plot", help="Where the influence chart is written."),
) -> None:
    """Generate sample data, load it, fit CLV, and print a 360 view and an influence report."""
    from analytics.item_neighbours_build import build_item_neighbours
    from analytics.value import fit_value_scores
    from cli.analytics_cmd import Engine, influence
    from cli.load_cmd import _print_report, _run_load
    from cli.view_cmd import view
    from loaders.generate import generate
    from queries.showcase import latest_purchase, showcase_customers

    graph = open_graph(ctx)
    where = state(ctx).graph_url or "embedded"
    console.rule("[bold]1. The graph")
    console.print(f"connected to the {graph.engine} engine ({getattr(graph, 'description', where)})")

    console.rule("[bold]2. Sample data from four departments")
    if not (data / "customers.csv").exists():
        truth = generate(data, customers=customers, seed=seed)
        console.print(f"generated {sum(truth.counts.values()):,} rows for {len(truth.persons):,} people in {data}/ "
                      "(CRM, web shop, support desk, marketing; a few malformed rows on purpose)")
    else:
        console.print(f"using the data already in {data}/ (delete it for a fresh set)")
    _print_report(_run_load(ctx, data, 5000, None, Format.table), Format.table)

    console.rule("[bold]3. Lifetime value, churn (BG/NBD + Gamma-Gamma) and item neighbours")
    fit = fit_value_scores(graph)
    bg, gg = fit.params["bgnbd"], fit.params["gamma_gamma"]
    console.print("BG/NBD " + ", ".join(f"{k}={v:.3g}" for k, v in bg.items())
                  + "; Gamma-Gamma " + ", ".join(f"{k}={v:.3g}" for k, v in gg.items()))

    neighbours = build_item_neighbours(graph)
    console.print(f"item neighbours for recommendations: {neighbours['edges']:,} BOUGHT_WITH edges between "
                  f"{neighbours['products']:,} products in {neighbours['seconds']['total']:.1f} s")

    console.rule("[bold]4. A 360 view")
    picks = showcase_customers(graph, limit=1)
    if not picks:
        raise NotFoundError("the sample has no person with several accounts and purchases; try another --seed")
    customer = sorted(picks[0]["accounts"])[0]
    as_of = latest_purchase(graph)  # sample data ends in the past: judge it as of its own end
    console.print(f"[dim]c360 view {customer} --as-of {as_of}[/dim]")
    view(ctx, customer, limit=8, channel=None, reason=None, fmt=Format.table, next_best=True, as_of=as_of)

    console.rule("[bold]5. Who influences others")
    plot.parent.mkdir(parents=True, exist_ok=True)
    influence(ctx, top=10, fmt=Format.table, plot=plot, engine=Engine.auto)
    console.rule()
    console.print(f"Next: [bold].venv/bin/c360 view {customer} --format json[/bold], "
                  "[bold].venv/bin/c360 --help[/bold]; the engine keeps running until [bold]c360 db stop[/bold].")


def register(app: typer.Typer) -> None:
    """Add ``c360 demo``."""
    app.command("demo")(demo)
