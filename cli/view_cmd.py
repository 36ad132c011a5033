"""``c360 view ID``: the 360 view of one customer (any account id or person id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from rich.panel import Panel
from rich.table import Table

from cli.render import Format, console, to_json
from cli.state import open_graph

__all__ = ["register", "view", "render_view"]


def _money(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _day(value: Any) -> str:
    """``2024-03-01T09:30:00Z`` -> ``2024-03-01 09:30`` (midnight shows as the date only)."""
    if not value:
        return ""
    text = str(value).replace("T", " ").rstrip("Z")
    return text[:10] if text.endswith("00:00:00") else text[:16]


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "none") -> Table | str:
    if not rows:
        return f"[bold]{title}[/bold]: [dim]{empty}[/dim]"
    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold cyan", expand=False)
    for c in columns:
        table.add_column(c, overflow="fold", justify="right" if c in {"amount", "spend", "count", "qty", "units", "n", "sat."} else "left")
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r))
    return table


def _key_values(title: str, pairs: Sequence[tuple[str, Any]]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for k, v in pairs:
        grid.add_row(k, "-" if v in (None, "") else str(v))
    return Panel(grid, title=title, title_align="left", expand=False)


def render_view(v: dict[str, Any]) -> None:
    """Print a 360 view (the dict of :func:`queries.view.customer_360`) as terminal sections."""
    past, present, future = v["past"], v["present"], v["future"]
    prof = present["profile"]
    console.rule(f"[bold]{prof.get('name') or v['customer_id']}[/bold]  {v['person_id'] or v['customer_id']}")

    console.print(_table(
        "Accounts", ["account", "source", "name", "email", "linked by", "matched with"],
        [(a["customer_id"], a["source"], a["name"], a["email"], ", ".join(a["rules"]),
          ", ".join(a["matched_with"]) if isinstance(a["matched_with"], list) else a["matched_with"])
         for a in v["accounts"]],
    ))

    rfm = present["rfm"]
    sl = present["service_level"]
    cur = present["current_interaction"]
    console.print(_key_values("Profile & value", [
        ("email", prof.get("email")), ("phone", prof.get("phone")),
        ("city", ", ".join(x for x in (prof.get("city"), prof.get("country")) if x)),
        ("customer since", _day(prof.get("signup_date"))), ("sources", ", ".join(prof.get("sources") or [])),
        ("total spend", _money(present["total_spend"])),
        ("orders", f"{present['order_count']} (avg {_money(present['average_order'])})"),
        ("first / last purchase", f"{_day(present['first_purchase']) or '-'} / {_day(present['last_purchase']) or '-'}"),
        ("RFM", f"{rfm['rfm']} {rfm['segment']}" if rfm else "not fitted (run c360 clv fit)"),
        ("service level", f"{sl['level']}: {sl['reason']}"),
        ("current contact", f"{cur.get('channel') or '-'} / {cur.get('reason') or '-'} ({cur.get('source') or 'none'})"),
    ]))

    console.print(_table(
        "Open issues", ["ticket", "severity", "status", "topic", "opened", "age (days)", "account"],
        [(t["ticket_id"], t["severity"], t["status"], t["topic"], _day(t["opened_at"]), _num(t.get("age_days"), 1), t["customer_id"])
         for t in present["open_tickets"]],
    ))

    totals = past["totals"]
    counts = ", ".join(f"{c['name'] or c['channel_id']} {c['interactions']}" for c in past["channel_counts"])
    console.print(_table(
        f"Timeline (latest {len(past['timeline'])} of {totals['interactions']}; by channel: {counts or 'none'})",
        ["when", "channel", "kind", "reason", "about", "account"],
        [(_day(i["occurred_at"]), i["channel"] or i["channel_id"], i["kind"], i["reason"],
          i["product"] or i["ticket_id"] or i["campaign_id"], i["customer_id"]) for i in past["timeline"]],
    ))

    console.print(_table(
        f"Purchases (latest {len(past['purchases'])} of {totals['purchase_lines']} lines)",
        ["when", "product", "kind", "qty", "amount", "order"],
        [(_day(p["occurred_at"]), p["product"] or p["product_id"], p["kind"], p["quantity"], _money(p["amount"]), p["order_id"])
         for p in past["purchases"]],
    ))
    console.print(_table(
        "Holdings", ["product", "kind", "n", "units", "spend", "last"],
        [(h["name"] or h["product_id"], h["kind"], h["purchases"], h["quantity"], _money(h["spend"]), _day(h["last_purchase"]))
         for h in past["holdings"]],
    ))
    console.print(_table(
        f"Recently viewed (latest {len(past['product_views'])} of {totals['product_views']})",
        ["when", "product", "category", "channel"],
        [(_day(i["occurred_at"]), i["product"] or i["product_id"], i["category"], i["channel"]) for i in past["product_views"]],
    ))

    responses = ", ".join(f"{k} {n}" for k, n in past["campaign_responses"].items())
    console.print(_table(
        f"Campaigns (latest {len(past['campaigns'])} of {totals['campaign_touches']}; responses: {responses or 'none'})",
        ["sent", "campaign", "kind", "channel", "response"],
        [(_day(c["sent_at"]), c["campaign"] or c["campaign_id"], c["kind"], c["channel"], c["response"]) for c in past["campaigns"]],
    ))

    console.print(_table(
        f"Service (latest {len(past['service_history'])} of {totals['tickets']} tickets)",
        ["opened", "ticket", "severity", "status", "topic", "closed", "sat."],
        [(_day(t["opened_at"]), t["ticket_id"], t["severity"], t["status"], t["topic"], _day(t["closed_at"]), t["satisfaction"])
         for t in past["service_history"]],
    ))

    prefs = past["preferences"]
    console.print("[bold]Preferences[/bold]: " + (", ".join(f"{k}={val}" for k, val in prefs.items()) if prefs else "[dim]none[/dim]"))

    inf = past["influence"]
    rows = [("influences", e["kind"], e["customer_id"], e["name"]) for e in inf["influences"]]
    rows += [("influenced by", e["kind"], e["customer_id"], e["name"]) for e in inf["influenced_by"]]
    console.print(_table("Influence", ["direction", "kind", "account", "name"], rows))

    if future.get("clv") is None:
        console.print("[bold]Future[/bold]: [dim]no scores yet (run c360 clv fit)[/dim]")
    else:
        console.print(_key_values("Future", [
            ("CLV (horizon)", _money(future["clv"])),
            ("P(alive)", _num(future["p_alive"], 3)),
            ("churn risk", _num(future["churn_risk"], 3)),
            ("expected purchases", _num(future["expected_purchases"], 2)),
            ("expected order value", _money(future["expected_aov"])),
            ("scored at", _day(future.get("scored_at"))),
        ]))
    recs = future.get("recommendations")
    if recs is not None:
        console.print(_table(
            "Up-sell / cross-sell candidates",
            ["product", "category", "score", "why"],
            [[r.get("name") or r.get("product_id"), r.get("category"), _num(r.get("score"), 3),
              f"{r.get('source')}: {', '.join(map(str, (r.get('reasons') or [])[:3]))}"] for r in recs],
        ))
    nb = future.get("next_best")
    if nb:
        action = nb.get("action") or {}
        console.print(f"[bold]Next best action[/bold]: {action.get('text') or action.get('action')}"
                      + (f" (via {action['channel']})" if action.get("channel") else ""))
        if nb.get("offers"):
            console.print(_table(
                "Next best offers",
                ["offer", "product", "expected acceptance", "why"],
                [[o.get("offer_id") or o.get("campaign_id"), o.get("product_name") or o.get("product_id"),
                  _num(o.get("expected_acceptance"), 3), "; ".join(map(str, (o.get("reasons") or [])[:2]))] for o in nb["offers"]],
            ))
        elif nb.get("suppressed_reason"):
            console.print(f"no offers: {nb['suppressed_reason']}")


def view(
    ctx: typer.Context,
    customer_id: str = typer.Argument(..., help="A source account id (crm-000042) or a person id (p-...)."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, help="Items in each recent list."),
    channel: str = typer.Option(None, "--channel", help="Channel of the contact in progress (e.g. call_center)."),
    reason: str = typer.Option(None, "--reason", help="Reason of the contact in progress (e.g. billing)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
    next_best: bool = typer.Option(True, "--next-best/--no-next-best", help="Include recommendations and the next best offer/action."),
    as_of: str = typer.Option(None, "--as-of", help="Judge open tickets, recency and open offers as of this ISO date (default: now)."),
) -> None:
    """Show the 360 view of a customer: accounts, history, current state, value and risk."""
    from queries.view import customer_360

    graph = open_graph(ctx)
    result = customer_360(graph, customer_id, limit=limit, channel=channel, reason=reason, next_best=next_best, now=as_of)
    if fmt is Format.table:
        render_view(result)
    else:
        print(to_json(result, indent=2))


def register(app: typer.Typer) -> None:
    """Add ``c360 view`` to the main app."""
    app.command("view")(view)
