"""The platform's HTTP surface: health, readiness, metrics, the status API and the dashboard.

The app is built from a ``StatusSource`` passed in, so the same routes serve the
embedded platform and tests. Every request is timed into
``comind_http_request_duration_seconds`` under its route template (never the raw
path, which would explode label cardinality).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from comind.observe.metrics import CONTENT_TYPE, HTTP_REQUEST_DURATION, render


class StatusSource(Protocol):
    def status(self) -> dict[str, Any]: ...
    def healthy(self) -> bool: ...


ASGIEndpoint = Callable[[Request], Awaitable[Response]]


class _TimingMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUEST_DURATION.labels(request.method, template, str(response.status_code)).observe(
            time.perf_counter() - began
        )
        return response


def create_app(source: StatusSource, *, sqs: ASGIEndpoint | None = None) -> Starlette:
    """The Starlette application serving ``source`` (and the SQS endpoint at POST /)."""
    dashboard = resources.files("comind.api").joinpath("static", "dashboard.html").read_text()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        ready = source.healthy()
        return PlainTextResponse(
            "ready" if ready else "not ready", status_code=200 if ready else 503
        )

    async def metrics(request: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE)

    async def status(request: Request) -> Response:
        return JSONResponse(source.status())

    async def index(request: Request) -> Response:
        return HTMLResponse(dashboard)

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/api/v1/status", status),
        Route("/", index, methods=["GET"]),
    ]
    if sqs is not None:
        routes.append(Route("/", sqs, methods=["POST"]))
        routes.append(Route("/{account:int}/{queue}", sqs, methods=["POST"]))
    return Starlette(routes=routes, middleware=[Middleware(_TimingMiddleware)])
