"""Request bodies of the JSON API: read with a size cap, parsed into a typed model.

A body over the cap is refused before it is parsed (413), so no caller can make the
platform hold more than ``limit`` bytes of one request in memory.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from comind.api.errors import Problem

LIMIT = 64 * 1024
Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, limit: int = LIMIT) -> bytes:
    """The request body, or a 413 Problem once it passes ``limit`` bytes."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise Problem(f"the request body is over {limit} bytes", 413)
    return bytes(data)


async def parsed(request: Request, model: type[Model], limit: int = LIMIT) -> Model:
    """The body as ``model`` (an empty body is ``{}``); a 400 Problem names what is wrong."""
    raw = await read_body(request, limit)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Problem(f"{where}: {first['msg']}", 400) from None
