"""Request bodies read with a bound: every endpoint says how much it takes, and the platform
never holds more than that of one request, nor waits for it forever.

A declared ``Content-Length`` over the limit is refused before a byte is read; a body that
grows past the limit while it streams (chunked, or a lying header) is refused as soon as it
does; a body that trickles in slower than ``BODY_SECONDS`` is refused with 408.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from comind.api.errors import Problem

BODY_SECONDS = 10.0


async def read_bounded(request: Request, limit: int, *, seconds: float = BODY_SECONDS) -> bytes:
    """The body of ``request``, or a :class:`Problem` (413, 408, 400) saying why not."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Problem(f"the request body must be at most {limit} bytes", 413)
    try:
        return await asyncio.wait_for(_read(request, limit), seconds)
    except TimeoutError:
        raise Problem(f"the request body took over {seconds:.0f} s", 408) from None
    except ClientDisconnect:
        raise Problem("the client went away before its body arrived", 400) from None


async def _read(request: Request, limit: int) -> bytes:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Problem(f"the request body must be at most {limit} bytes", 413)
    return bytes(raw)
