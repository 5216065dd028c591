"""The platform's HTTP surface: the open probes (health, readiness) and the API's OpenAPI
document (see :mod:`comind.api.openapi`), plus the routes passed in: the metrics and status
views (:mod:`comind.api.status`), the other APIs and the dashboard
(:mod:`comind.api.dashboard`).

The app is built from a ``HealthSource`` passed in, so the same routes serve the
embedded platform and tests. Every request is timed into
``comind_http_request_duration_seconds`` under its route template (never the raw
path, which would explode label cardinality).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comind.api import openapi
from comind.api.guard import MUTATIONS
from comind.observe.metrics import HTTP_REQUEST_DURATION
from comind.stores.errors import BAD_VALUE, ENGINE_DOWN, refused_value, unavailable


class HealthSource(Protocol):
    def healthy(self) -> bool: ...


ASGIEndpoint = Callable[[Request], Awaitable[Response]]


class _TimingMiddleware:
    """Times every HTTP request (plain ASGI: no extra task or body buffering per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUEST_DURATION.labels(scope["method"], template, str(status[0])).observe(
                time.perf_counter() - began
            )


class _RefuseNul:
    """A NUL character in the path or query string is refused at the door (400): no engine or
    file name can hold one, and each would otherwise fail in its own way deep inside."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or "\x00" in unquote(scope["query_string"].decode("latin-1"))
        ):
            refusal = JSONResponse({"error": "the path or query string holds a NUL character"}, 400)
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _FollowerRefusal:
    """On a replica that follows (see comind.platform.replicas), a change is refused with the
    leader's name and address (421): only the leader syncs, runs and schedules. The data
    plane (SQS calls, a queue's messages, a flow's ingest, signing in) is served anywhere."""

    SERVED = re.compile(r"^/(\d+/[^/]+|ingest/[^/]+|api/v1/queues/[^/]+/messages|login|logout)?$")

    def __init__(self, app: ASGIApp, follows: Callable[[], str | None]) -> None:
        self.app, self.follows = app, follows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in MUTATIONS
                and not self.SERVED.match(scope["path"])
                and (leader := self.follows()) is not None):  # fmt: skip
            refusal = JSONResponse({"error": f"this replica follows: send changes to the "
                                             f"leader, {leader}"}, 421)  # fmt: skip
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    source: HealthSource,
    *,
    sqs: ASGIEndpoint | None = None,
    extra: list[BaseRoute] | None = None,
    follows: Callable[[], str | None] = lambda: None,
) -> Starlette:
    """The Starlette application serving the probes of ``source`` (and the SQS endpoint at
    POST /, and ``extra`` routes such as the status view, the GitOps API and the dashboard);
    ``follows``: the leader, while this replica follows one."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        ready = source.healthy()
        return PlainTextResponse(
            "ready" if ready else "not ready", status_code=200 if ready else 503
        )

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route(openapi.PATH, openapi.serve),
    ]
    routes += extra or []
    if sqs is not None:
        routes.append(Route("/", sqs, methods=["POST"]))
        routes.append(Route("/{account:int}/{queue}", sqs, methods=["POST"]))
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(_TimingMiddleware),
            Middleware(_RefuseNul),
            Middleware(_FollowerRefusal, follows=follows),
        ],
        exception_handlers={
            **{engine: _unavailable for engine in ENGINE_DOWN},
            **{value: _refused for value in BAD_VALUE},
        },
    )


async def _refused(request: Request, exc: Exception) -> Response:
    """A value of the request the engine refused, under a route that does not say so itself."""
    return JSONResponse({"error": refused_value(exc)}, 400)


async def _unavailable(request: Request, exc: Exception) -> Response:
    """An engine restarting under any route (the guarded ones answer this themselves): 503 and
    one line, which the CLI retries for a read."""
    return JSONResponse({"error": f"{unavailable(exc)} is unavailable right now (restarting?); "
                                  "try again shortly"}, 503)  # fmt: skip
