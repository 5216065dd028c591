"""Any route whose engine is restarting answers 503 and one line (the guarded routes answer
this themselves; this is every other one), never a 500 with a traceback."""

from __future__ import annotations

import psycopg_pool
import pytest
import redis
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.asgi import request

from comind.api.app import create_app
from comind.embedded.state import PlatformState


class _Up:
    def status(self) -> PlatformState:
        return PlatformState(running=True, version="0", pid=1, home="/", engines={})

    def healthy(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("error", "engine"),
    [(psycopg_pool.PoolTimeout("no connection in 3 s"), "PostgreSQL"),
     (redis.ConnectionError("refused"), "Redis")],
)  # fmt: skip
def test_an_unavailable_engine_is_a_503(error: Exception, engine: str) -> None:
    async def failing(request: Request) -> Response:
        raise error

    answer = request(create_app(_Up(), extra=[Route("/api/v1/x", failing)]), "GET", "/api/v1/x")
    assert answer.status_code == 503
    assert answer.json()["error"].startswith(f"{engine} is unavailable right now")
