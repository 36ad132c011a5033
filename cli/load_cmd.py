"""``c360 load``, ``c360 generate`` and ``c360 load-cdnow``: get data into the graph."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from cli.render import Format, console, render_rows, to_json
from cli.state import open_graph
from loaders.load import LoadReport, load_folder

__all__ = ["register"]


def _summary_rows(report: LoadReport) -> list[dict]:
    rows = [
        {"file": s.file, "read": s.read, "loaded": s.loaded, "rejected": s.rejected, "duplicates": s.duplicates,
         "rows/s": round(s.read / s.seconds) if s.seconds else None}
        for s in report.files.values()
    ]
    return rows


def _print_report(report: LoadReport, fmt: Format) -> None:
    if fmt is Format.json:
        print(to_json({**report.as_dict()["files"], "_identity": report.as_dict()["identity"],
                       "_seconds": round(report.seconds, 3), "_mode": report.mode}))
        return
    render_rows(_summary_rows(report), fmt, title=f"Loaded {report.folder}")
    if fmt is Format.table:
        if report.identity:
            i = report.identity
            console.print(
                f"identity: {i.accounts:,} accounts -> {i.persons:,} persons ({i.linked_accounts:,} accounts linked across systems; "
                f"{i.links_written:,} links written)"
            )
        if any(s.rejected for s in report.files.values()):
            console.print(f"rejected rows, with reasons, are in {report.report_dir}")
        how = "the engine's bulk build (the graph was empty)" if report.mode == "bulk" else "batched Cypher"
        console.print(f"done in {report.seconds:.1f}s, written by {how}")


def _run_load(
    ctx: typer.Context, folder: Path, batch_size: int | None, report_dir: Path | None, fmt: Format, bulk: bool | None = None
) -> LoadReport:
    graph = open_graph(ctx)
    show = fmt is Format.table and console.is_terminal
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
        console=console, disable=not show, transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, rows: int, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, description=f"{name} ({rows:,} rows)")

        return load_folder(graph, folder, batch_size=batch_size, report_dir=report_dir, progress=progress, bulk=bulk)


def load(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder of contract CSV/Parquet files (customers.csv required)."),
    batch_size: int = typer.Option(
        None, "--batch-size", "-b", min=1,
        help="Rows per write (default 5,000 with Cypher, 50,000 for the bulk build of an empty graph).",
    ),
    report_dir: Path = typer.Option(None, "--report-dir", help="Where summary.json and <file>.rejects.csv go (default FOLDER/load-report)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json (json: one object keyed by file)."),
    bulk: bool = typer.Option(
        None, "--bulk/--no-bulk",
        help="Default: an empty FalkorDB graph is built with the engine's bulk loader, any other with batched "
             "Cypher. --bulk insists (error if the graph holds data); --no-bulk always uses Cypher.",
    ),
) -> None:
    """Load a folder of departmental files into the graph and resolve identities."""
    report = _run_load(ctx, folder, batch_size, report_dir, fmt, bulk)
    _print_report(report, fmt)
    _hint_stale_neighbours(ctx, report, fmt)


def _hint_stale_neighbours(ctx: typer.Context, report: LoadReport, fmt: Format) -> None:
    """Say so when new purchases arrived after the item neighbours recommendations read were built."""
    tx = report.files.get("transactions")
    if fmt is not Format.table or tx is None or tx.loaded == 0:
        return
    from analytics.item_neighbours_build import current_build

    build = current_build(open_graph(ctx))
    if build is not None:
        console.print("recommendations read item neighbours built before this load: run "
                      "[bold]c360 item-neighbours[/bold] to include these purchases")


def generate(
    folder: Path = typer.Argument(..., help="Folder to write the data set into."),
    customers: int = typer.Option(1000, "--customers", "-n", min=10, help="Source accounts to generate."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same files)."),
    clean: bool = typer.Option(False, "--clean/--with-malformed", help="Leave out the few malformed rows."),
    influence_edges: int = typer.Option(
        None, "--influence-edges", min=0,
        help="Exact number of valid referral/social rows (default about 0.57 per account; more adds weak random ties).",
    ),
    taste_strength: float = typer.Option(
        0.8, "--taste-strength", min=0.0, max=1.0,
        help="Share of purchases drawn from the buyer's taste community (the rest from overall popularity).",
    ),
) -> None:
    """Write a realistic synthetic data set in the contract format."""
    from loaders.generate import generate as gen

    truth = gen(folder, customers=customers, seed=seed, malformed=not clean, influence_edges=influence_edges,
                taste_strength=taste_strength)
    total = sum(truth.counts.values())
    console.print(f"wrote {total:,} rows in {len(truth.counts)} files to {folder} ({len(truth.persons):,} persons, "
                  f"{len(truth.malformed)} malformed rows planted)")


def load_cdnow(
    ctx: typer.Context,
    full: bool = typer.Option(False, "--full", help="The full CDNOW master log (23,570 customers) instead of the 2,357 sample."),
    keep: Path = typer.Option(None, "--keep", help="Also keep the converted CSV files in this folder."),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
) -> None:
    """Load the real CDNOW purchase log (shipped in the lifetimes wheel) as customers and transactions."""
    from loaders.cdnow import write_cdnow_folder

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_cdnow_folder(keep or Path(tmp), sample=not full)
        _print_report(_run_load(ctx, folder, None, Path(tmp) / "report" if not keep else None, fmt), fmt)


def register(app: typer.Typer) -> None:
    """Add the data commands to the CLI."""
    app.command("load")(load)
    app.command("generate")(generate)
    app.command("load-cdnow")(load_cdnow)
