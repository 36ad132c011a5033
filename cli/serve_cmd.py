"""``c360 serve``: run the HTTP API (see docs/api.md)."""

from __future__ import annotations

import os
import secrets
import sys

import typer

from cli.state import state

__all__ = ["register", "serve", "TOKEN_ENV"]

TOKEN_ENV = "C360_API_TOKEN"


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8360, "--port", min=1, max=65535, help="TCP port."),
    generate_token: bool = typer.Option(
        False, "--generate-token", help=f"Without ${TOKEN_ENV}, make up a token for this run and print it."
    ),
) -> None:
    """Serve the HTTP API; clients send ``Authorization: Bearer $C360_API_TOKEN``."""
    import uvicorn

    from api.app import create_app
    from graph.connect import connect
    from graph.errors import ConfigError

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        if not generate_token:
            raise ConfigError(f"set {TOKEN_ENV} to the API token clients must send (or pass --generate-token)")
        token = secrets.token_urlsafe(32)
        print(f"{TOKEN_ENV} for this run: {token}", file=sys.stderr)
    url = state(ctx).graph_url
    app = create_app(lambda: connect(url), token=token)
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``c360 serve`` to the main app."""
    app.command("serve")(serve)
