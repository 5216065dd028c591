"""The platform's own views behind a token: ``/metrics`` (the registry, for Prometheus with the
viewer token as its bearer credential) and ``/api/v1/status`` (what ``comind status --json``
shows: the state path, pids, ports, versions, app names). Both are views of the whole platform,
so a token limited to one app is refused; ``/healthz`` and ``/readyz`` stay open and say
nothing but ok / ready."""

from __future__ import annotations

from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from comind.api.memo import Coalesced
from comind.api.tokens import Tokens
from comind.embedded.state import PlatformState
from comind.observe.metrics import CONTENT_TYPE, render


class StatusSource(Protocol):
    def status(self) -> PlatformState: ...


class StatusApi:
    def __init__(self, source: StatusSource, tokens: Tokens) -> None:
        self.source, self.tokens = source, tokens
        self.exposition = Coalesced(render)  # a burst of scrapes shares renderings

    def routes(self) -> list[BaseRoute]:
        return [Route("/metrics", self.metrics), Route("/api/v1/status", self.state)]

    async def metrics(self, request: Request) -> Response:
        refused = await self.tokens.refuse(request)
        if refused is not None:
            return refused
        return Response(await run_in_threadpool(self.exposition.get), media_type=CONTENT_TYPE)

    async def state(self, request: Request) -> Response:
        refused = await self.tokens.refuse(request)
        return refused or JSONResponse(self.source.status().dump())
