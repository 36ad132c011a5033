"""``c360 clv fit``: fit CLV (BG/NBD + Gamma-Gamma) and RFM per person and store the scores."""

from __future__ import annotations

import typer

from cli.render import Format, console, render_rows, to_json
from cli.state import open_graph

__all__ = ["register", "clv_app", "fit"]

clv_app = typer.Typer(help="Customer lifetime value: fit the models and write scores to the graph.", no_args_is_help=True)


@clv_app.command("fit")
def fit(
    ctx: typer.Context,
    calibration_end: str = typer.Option(None, "--calibration-end", help="Last day (YYYY-MM-DD) of the fitting period; default the last transaction day."),
    horizon_months: int = typer.Option(12, "--horizon-months", min=1, help="CLV horizon in months."),
    discount_rate: float = typer.Option(0.01, "--discount-rate", min=0.0, max=0.99, help="Monthly discount rate for CLV (0.01 = 1 %/month)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json (json prints only the fitted parameters)."),
) -> None:
    """Fit BG/NBD, Gamma-Gamma and RFM on all transactions (accounts merged per person) and write the scores back."""
    from analytics.value import fit_value_scores

    graph = open_graph(ctx)
    result = fit_value_scores(
        graph, calibration_end=calibration_end, horizon_months=horizon_months, discount_rate_monthly=discount_rate,
    )
    if fmt is Format.json:
        print(to_json(result.params))
        return
    rows = [
        {"model": model, "parameter": name, "value": value}
        for model, values in result.params.items()
        for name, value in values.items()
    ]
    if fmt is Format.csv:
        render_rows(rows, fmt)
        return
    render_rows(rows, fmt, title="Fitted parameters")
    t = result.timings
    console.print(
        f"scored {result.persons_scored:,} persons ({result.accounts_scored:,} accounts) from "
        f"{result.transactions:,} transaction lines; calibration end {result.calibration_end or 'last transaction'}, "
        f"RFM as of {result.rfm_as_of}; read {t.get('read', 0):.1f}s, fit {t.get('fit', 0):.1f}s, "
        f"write {t.get('write', 0):.1f}s"
    )


def register(app: typer.Typer) -> None:
    """Add the ``clv`` command group to the main app."""
    app.add_typer(clv_app, name="clv")
