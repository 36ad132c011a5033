"""HTTP API for apps: the 360 view, recommendations, next best offer and offer responses.

``create_app(graph_factory, token=...)`` builds a FastAPI app that opens one backend (the
FalkorDB client is a thread-safe connection pool) on first use and shares it between
requests. Every endpoint except ``/health`` needs ``Authorization: Bearer <token>``.
Errors: unknown ids -> 404, bad input -> 422/400 with a clear message, anything else -> 500
with a generic message (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from graph.backend import GraphBackend
from graph.errors import ConfigError, InputError, NotFoundError

__all__ = ["create_app", "ResponseIn"]

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


class _Unauthorized(Exception):
    pass


_BEARER = HTTPBearer(auto_error=False)


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

    @app.middleware("http")
    async def _no_traces(request: Request, call_next: Callable[..., Any]) -> Any:
        try:
            return await call_next(request)
        except Exception:  # noqa: BLE001 - the client gets a generic message, the log the traceback
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness check (no token needed)."""
        return {"status": "ok"}

    auth = [Depends(authorised)]

    @app.get("/customers/{customer_id}/view", dependencies=auth, tags=["customers"])
    def view(customer_id: CustomerId, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Any:
        """The 360 view of a customer (all accounts of the person)."""
        if customer_360 is None:
            return JSONResponse({"detail": "the 360 view is not available in this installation"}, status_code=501)
        return customer_360(graph(), customer_id, limit=limit)

    @app.get("/customers/{customer_id}/recommendations", dependencies=auth, tags=["customers"])
    def recommendations(customer_id: CustomerId, k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        """Products recommended from co-purchases and look-alikes, each with its reasons."""
        from queries.recommend import recommend

        return {"customer_id": customer_id, "items": recommend(graph(), customer_id, k=k)}

    @app.get("/customers/{customer_id}/next-best", dependencies=auth, tags=["customers"])
    def next_best(
        customer_id: CustomerId,
        k: Annotated[int, Query(ge=1, le=50)] = 5,
        as_of: Annotated[datetime | None, Query(description="Judge open campaigns at this time (default: now).")] = None,
    ) -> dict[str, Any]:
        """Next best action and ranked offers (rules from ``C360_NBO_RULES`` or the bundled file)."""
        from queries.nbo import next_best as nbo

        return nbo(graph(), customer_id, k=k, now=as_of)

    @app.post("/customers/{customer_id}/responses", dependencies=auth, tags=["customers"], status_code=201)
    def responses(customer_id: CustomerId, body: ResponseIn) -> dict[str, Any]:
        """Record the customer's answer to an offer; the next ranking reflects it."""
        from queries.responses import record_response

        return record_response(graph(), customer_id, body.offer_id, body.response, channel=body.channel)

    return app
