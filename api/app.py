"""HTTP API for apps: the 360 view, recommendations, next best offer and offer responses.

``create_app(graph_factory, token=...)`` builds a FastAPI app that opens one backend (the
FalkorDB client is a thread-safe connection pool) on first use and shares it between
requests. ``app_from_env()`` builds the same app from the environment (``C360_API_TOKEN`` and
the graph settings of :mod:`graph.config`); it is the factory each uvicorn worker process
calls, so every worker opens its own backend after it started (no pool crosses a fork).
Every endpoint except ``/health`` needs ``Authorization: Bearer <token>``.
Errors: unknown ids -> 404, bad input -> 422/400 with a clear message, anything else -> 500
with a generic message (the traceback goes to the server log, never to the client).

Hot path: the data endpoints return ready JSON responses (``json.dumps`` in the worker
thread), so FastAPI neither validates the result again in a second threadpool hop nor walks
it with ``jsonable_encoder`` on the event loop; errors are caught by a plain ASGI middleware.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from graph.backend import GraphBackend
from graph.errors import ConfigError, InputError, NotFoundError

__all__ = ["HTTP_PROTOCOL", "TOKEN_ENV", "NoDelayHTTPProtocol", "ResponseIn", "app_from_env", "create_app"]

TOKEN_ENV = "C360_API_TOKEN"
"""The environment variable holding the bearer token clients must send."""

log = logging.getLogger("c360.api")

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="An account id or a person id."),
]


class ResponseIn(BaseModel):
    """A customer's answer to an offer."""

    model_config = ConfigDict(extra="forbid")

    offer_id: str = Field(min_length=1, max_length=200, description="The campaign id of the offer.")
    response: Literal["accepted", "rejected"]
    channel: str | None = Field(default=None, min_length=1, max_length=200, description="Channel id, e.g. ch-email.")


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP/1.1 protocol (httptools if installed, else h11) with ``TCP_NODELAY`` on each connection.

    uvicorn's multi-worker mode binds its socket without naming the TCP protocol, so asyncio
    does not switch Nagle's algorithm off on the accepted connections; h11 then writes the
    headers and the body of a response separately and the body waits for the client's
    delayed ACK, about 40 ms on every keep-alive request after the first.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not a TCP socket after all: nothing to switch off
                pass
        super().connection_made(transport)  # type: ignore[arg-type]


HTTP_PROTOCOL = f"{__name__}:NoDelayHTTPProtocol"
"""What to pass as uvicorn's ``http=`` (an import string, so spawned workers can load it)."""


class _Unauthorized(Exception):
    pass


_BEARER = HTTPBearer(auto_error=False)


class _Json(JSONResponse):
    """A JSON response rendered with the C encoder; odd values (datetimes, sets ...) via FastAPI's encoder."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=jsonable_encoder
        ).encode("utf-8")


class _NoTraces:
    """ASGI middleware: an unhandled error becomes a generic 500; the traceback goes to the log.

    A plain ASGI wrapper, not ``@app.middleware("http")``, which costs an extra task and a
    body stream per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late for a clean answer; the server closes the connection
                raise
            await JSONResponse({"detail": "internal server error"}, status_code=500)(scope, receive, send)


def create_app(graph_factory: Callable[[], GraphBackend], *, token: str) -> FastAPI:
    """The API app; ``graph_factory()`` is called once, on the first request that needs the graph."""
    if not token:
        raise ConfigError("the API needs a token (set C360_API_TOKEN)")
    expected = token.encode("utf-8")
    try:
        from queries.view import customer_360
    except ImportError:  # the 360 view module is optional
        customer_360 = None

    lock = threading.Lock()
    holder: dict[str, GraphBackend] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        with lock:
            backend = holder.pop("graph", None)
        if backend is not None:
            backend.close()

    app = FastAPI(
        title="customer360-graph API",
        version="1",
        description="360-degree customer view, recommendations and next best offer.",
        lifespan=lifespan,
    )

    def graph() -> GraphBackend:
        backend = holder.get("graph")
        if backend is not None:
            return backend
        with lock:
            if "graph" not in holder:
                holder["graph"] = graph_factory()
            return holder["graph"]

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(_BEARER)) -> None:
        supplied = (credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else "").encode("utf-8")
        if not hmac.compare_digest(supplied, expected):
            raise _Unauthorized()

    @app.exception_handler(_Unauthorized)
    async def _unauthorised(request: Request, exc: _Unauthorized) -> JSONResponse:
        return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    app.add_middleware(_NoTraces)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness check (no token needed)."""
        return {"status": "ok"}

    auth = [Depends(authorised)]

    data: dict[str, Any] = {"dependencies": auth, "tags": ["customers"], "response_class": _Json}

    @app.get("/customers/{customer_id}/view", **data)
    def view(customer_id: CustomerId, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Response:
        """The 360 view of a customer (all accounts of the person)."""
        if customer_360 is None:
            return JSONResponse({"detail": "the 360 view is not available in this installation"}, status_code=501)
        return _Json(customer_360(graph(), customer_id, limit=limit))

    @app.get("/customers/{customer_id}/recommendations", **data)
    def recommendations(customer_id: CustomerId, k: Annotated[int, Query(ge=1, le=100)] = 10) -> Response:
        """Products recommended from co-purchases and look-alikes, each with its reasons."""
        from queries.recommend import recommend

        return _Json({"customer_id": customer_id, "items": recommend(graph(), customer_id, k=k)})

    @app.get("/customers/{customer_id}/next-best", **data)
    def next_best(
        customer_id: CustomerId,
        k: Annotated[int, Query(ge=1, le=50)] = 5,
        as_of: Annotated[datetime | None, Query(description="Judge open campaigns at this time (default: now).")] = None,
    ) -> Response:
        """Next best action and ranked offers (rules from ``C360_NBO_RULES`` or the bundled file)."""
        from queries.nbo import next_best as nbo

        return _Json(nbo(graph(), customer_id, k=k, now=as_of))

    @app.post("/customers/{customer_id}/responses", status_code=201, **data)
    def responses(customer_id: CustomerId, body: ResponseIn) -> Response:
        """Record the customer's answer to an offer; the next ranking reflects it."""
        from queries.responses import record_response

        stored = record_response(graph(), customer_id, body.offer_id, body.response, channel=body.channel)
        return _Json(stored, status_code=201)

    return app


def app_from_env(env: Mapping[str, str] | None = None) -> FastAPI:
    """The API app from the environment: ``C360_API_TOKEN`` and ``C360_GRAPH_URL`` / ``C360_GRAPH_NAME`` /
    ``C360_HOME`` / ``C360_FSYNC`` (see :mod:`graph.config`).

    The importable factory for ``uvicorn.run("api.app:app_from_env", factory=True, workers=N)``:
    each worker process calls it and connects to the graph on its first request.
    """
    from graph.config import load_settings
    from graph.connect import connect
    from graph.urls import parse_graph_url

    env = os.environ if env is None else env
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"the API needs a token: set {TOKEN_ENV}")
    settings = load_settings(dict(env))
    parse_graph_url(settings.graph_url, default_graph=settings.graph_name)  # a bad URL fails now, not per request
    return create_app(lambda: connect(settings.graph_url, settings=settings), token=token)
