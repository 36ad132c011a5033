"""``c360 db``: start, stop and inspect the embedded engine."""

from __future__ import annotations

import typer

from cli.render import console
from graph import embedded
from graph.config import load_settings

app = typer.Typer(help="Manage the embedded FalkorDB engine (data in $C360_HOME, default ./.c360).", no_args_is_help=True)


@app.command()
def start() -> None:
    """Start the embedded engine, or report the one already running."""
    settings = load_settings()
    server = embedded.start(settings.home, fsync=settings.fsync, omp_threads=settings.omp_threads)
    console.print(f"embedded engine running (pid {server.pid}) in {server.home}, socket {server.socket.name}, fsync {settings.fsync}")


@app.command()
def stop() -> None:
    """Stop the embedded engine cleanly; its data stays on disk."""
    settings = load_settings()
    if embedded.stop(settings.home):
        console.print(f"embedded engine in {settings.home.resolve()} stopped")
    else:
        console.print(f"no embedded engine was running in {settings.home.resolve()}")


@app.command()
def status() -> None:
    """Say whether the embedded engine runs and how much data it keeps."""
    st = embedded.status(load_settings().home)
    state = f"running (pid {st.pid})" if st.running else "stopped"
    console.print(f"embedded engine: {state}; data folder {st.home} ({st.data_bytes / 1e6:.1f} MB)")
