"""``c360 serve``: run the HTTP API (see docs/api.md)."""

from __future__ import annotations

import os
import secrets
import sys

import typer

from cli.state import state

__all__ = ["APP_FACTORY", "TOKEN_ENV", "parse_workers", "register", "serve"]

TOKEN_ENV = "C360_API_TOKEN"
APP_FACTORY = "api.app:app_from_env"
"""What every uvicorn worker imports and calls: the app built from the environment."""


def parse_workers(value: str) -> int:
    """``auto`` or ``0`` -> one worker per CPU this process may use; else a whole number >= 1."""
    text = value.strip().lower()
    if text in ("auto", "0"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    try:
        workers = int(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number of processes or 'auto', not {value!r}", param_hint="'--workers'") from None
    if workers < 1:
        raise typer.BadParameter(f"expected at least 1 worker (or 0/'auto' for one per CPU), not {workers}", param_hint="'--workers'")
    return workers


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8360, "--port", min=1, max=65535, help="TCP port."),
    workers: str = typer.Option(
        "1", "--workers", help="Server processes sharing the port, each with its own graph connections; 'auto' or 0 = one per CPU."
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request (costs some CPU)."),
    generate_token: bool = typer.Option(
        False, "--generate-token", help=f"Without ${TOKEN_ENV}, make up a token for this run and print it."
    ),
) -> None:
    """Serve the HTTP API; clients send the header "Authorization: Bearer $C360_API_TOKEN"."""
    import uvicorn

    from api.app import HTTP_PROTOCOL
    from graph.connect import connect
    from graph.errors import ConfigError

    count = parse_workers(workers)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token and not generate_token:
        raise ConfigError(f"set {TOKEN_ENV} to the API token clients must send (or pass --generate-token)")
    url = state(ctx).graph_url
    # Fail now with a clear message if the graph is unreachable, and start the embedded engine
    # once here rather than in several workers at the same time.
    connect(url).close()
    if not token:
        token = secrets.token_urlsafe(32)
        print(f"{TOKEN_ENV} for this run: {token}", file=sys.stderr)
    # The workers build the app from the environment (api.app:app_from_env): token and graph URL
    # travel there, never on a command line.
    os.environ[TOKEN_ENV] = token
    if url:
        os.environ["C360_GRAPH_URL"] = url
    print(f"serving on http://{host}:{port} with {count} worker process{'es' if count > 1 else ''}", file=sys.stderr)
    uvicorn.run(
        APP_FACTORY, factory=True, host=host, port=port, workers=count, http=HTTP_PROTOCOL, log_level="info",
        access_log=access_log,
    )


def register(app: typer.Typer) -> None:
    """Add ``c360 serve`` to the main app."""
    app.command("serve")(serve)
