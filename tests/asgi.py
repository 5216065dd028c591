"""One request to an ASGI app in-process, for unit tests of the HTTP layer.

It runs on a thread of its own with a fresh event loop: a loop that another test left running
in the worker's thread (the browser tests' driver shares a pytest-xdist worker with these)
cannot get in the way.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from starlette.types import ASGIApp


def request(app: ASGIApp, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, send()).result()
