"""``c360 recommend``, ``c360 item-neighbours``, ``c360 nbo``, ``c360 respond`` and ``c360 evaluate recommendations``."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum

import typer

from cli.render import Format, console, render_rows, to_json
from cli.state import open_graph
from graph.errors import InputError

__all__ = ["register", "recommend_cmd", "item_neighbours_cmd", "nbo_cmd", "respond_cmd", "evaluate_recommendations_cmd", "evaluate_app"]

evaluate_app = typer.Typer(help="Measure how well the models predict held-out behaviour.", no_args_is_help=True)


class Walk(str, Enum):
    """Where the evaluated co-purchase scores come from."""

    table = "table"
    live = "live"


class Response(str, Enum):
    """Answers a customer can give to an offer."""

    accepted = "accepted"
    rejected = "rejected"


def _as_of(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise InputError(f"--as-of: not an ISO date or date-time: {value!r}") from e
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def recommend_cmd(
    ctx: typer.Context,
    customer_id: str = typer.Argument(..., help="An account id (crm-000042) or a person id (p-...)."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=1000, help="How many products."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Recommend products: what buyers of the same products (and look-alikes) also bought."""
    from queries.recommend import recommend

    items = recommend(open_graph(ctx), customer_id, k=k)
    render_rows(items, fmt, title=f"Recommendations for {customer_id}",
                columns=["product_id", "name", "category", "score", "source", "reasons"])


def item_neighbours_cmd(
    ctx: typer.Context,
    top: int = typer.Option(50, "--top", "-n", min=1, max=1000, help="Neighbours kept per product."),
    alpha: float = typer.Option(0.7, "--alpha", min=0.0, max=1.0,
                                help="0.5 is the cosine; higher divides less by the neighbour's popularity."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Precompute "bought with" neighbours of every product (recommendations read them; rerun after loads)."""
    from analytics.item_neighbours_build import build_item_neighbours

    with console.status("reading purchases and computing item neighbours ..."):
        out = build_item_neighbours(open_graph(ctx), top_n=top, alpha=alpha)
    if fmt is Format.json:
        print(to_json(out, indent=2))
        return
    if out["superseded_by"] and fmt is Format.table:
        console.print(f"a build started later ({out['superseded_by']}) finished first and stays current; "
                      "this build's edges were removed")
    secs = out["seconds"]
    render_rows([{"build": out["build"], "products": out["products"], "edges": out["edges"],
                  "buyer-product pairs": out["pairs"], "old edges removed": out["replaced_edges"],
                  "seconds": round(secs["total"], 1)}], fmt, title="BOUGHT_WITH neighbours written")


def nbo_cmd(
    ctx: typer.Context,
    customer_id: str = typer.Argument(..., help="An account id or a person id."),
    k: int = typer.Option(5, "--k", "-k", min=1, max=100, help="How many offers."),
    as_of: str = typer.Option(None, "--as-of", help="Judge open campaigns at this date (ISO; default: now)."),
    rules: str = typer.Option(None, "--rules", envvar="C360_NBO_RULES", help="Rules file (TOML); default: the bundled one."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
) -> None:
    """Next best action and offers for a customer (rules in analytics/nbo_rules.toml)."""
    from analytics.nbo_rules import load_rules
    from queries.nbo import next_best

    result = next_best(open_graph(ctx), customer_id, k=k, rules=load_rules(rules), now=_as_of(as_of))
    if fmt is not Format.table:
        print(to_json(result, indent=2))
        return
    action = result["action"]
    console.print(f"[bold]Next best action[/bold] for {result['customer_id']} ({result['person_id'] or 'no person'}): "
                  f"[cyan]{action['action']}[/cyan] via {action.get('channel') or 'any channel'}")
    console.print(f"  {action['text']}")
    if result["suppressed_reason"]:
        console.print(f"[yellow]No offers:[/yellow] {result['suppressed_reason']}")
    else:
        render_rows(result["offers"], Format.table, title="Offers",
                    columns=["offer_id", "kind", "name", "product_id", "channel", "expected_acceptance", "reasons"])
    for reason in result["reasons"]:
        console.print(f"[dim]- {reason}[/dim]")


def respond_cmd(
    ctx: typer.Context,
    customer_id: str = typer.Argument(..., help="An account id or a person id."),
    offer_id: str = typer.Argument(..., help="The offer (campaign id) answered."),
    response: Response = typer.Argument(..., help="accepted or rejected."),
    channel: str = typer.Option(None, "--channel", help="Channel id the answer came through (e.g. ch-email)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
) -> None:
    """Record a customer's answer to an offer (the next ranking reflects it)."""
    from queries.responses import record_response

    touch = record_response(open_graph(ctx), customer_id, offer_id, response.value, channel=channel)
    if fmt is Format.table:
        console.print(f"recorded {touch['response']} of {touch['campaign_id']} by {touch['customer_id']} as {touch['touch_id']}")
    else:
        render_rows([touch], fmt)


def evaluate_recommendations_cmd(
    ctx: typer.Context,
    holdout_days: int = typer.Option(30, "--holdout-days", min=1, help="Hide the purchases of the last D days."),
    sample: int = typer.Option(500, "--sample", min=1, help="Evaluate at most N people (seeded random sample)."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=100, help="List length."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    walk: Walk = typer.Option(Walk.table, "--walk", help="table: item neighbours rebuilt from the purchases before "
                              "the cutoff (what the API serves); live: the co-buyer walk."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Hit rate@k, precision@k and coverage against a popularity baseline on held-out purchases."""
    from analytics.evaluate import evaluate_recommendations, summary_rows

    report = evaluate_recommendations(open_graph(ctx), holdout_days=holdout_days, sample=sample, k=k, seed=seed,
                                      walk=walk.value)
    if fmt is Format.json:
        print(to_json(report, indent=2))
        return
    render_rows(summary_rows(report), fmt, title=f"Hold-out of {holdout_days} days (cutoff {report['cutoff']})")
    if fmt is Format.table:
        lift = report["lift"]
        console.print(f"lift over popularity: {'n/a' if lift is None else f'{lift:.2f}x'}; "
                      f"p50 latency {report['latency_ms']['p50'] or 0:.1f} ms; {report['seconds']:.1f} s")


def register(app: typer.Typer) -> None:
    """Add the recommendation commands to the main app."""
    app.command("recommend")(recommend_cmd)
    app.command("item-neighbours")(item_neighbours_cmd)
    app.command("nbo")(nbo_cmd)
    app.command("respond")(respond_cmd)
    evaluate_app.command("recommendations")(evaluate_recommendations_cmd)
    app.add_typer(evaluate_app, name="evaluate")
