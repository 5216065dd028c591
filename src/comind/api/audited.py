"""Mutations over the API, authorized and audited in one place.

:func:`audited` checks the caller's role, runs the work, maps what went wrong to a status
(a refused or malformed request 400/404/413, a failure 409) and writes one audit entry for
every attempt, whatever its outcome — so no route can forget either step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from comind.api.errors import Problem
from comind.api.tokens import Tokens
from comind.errors import ComindError, UsageError


async def audited(
    tokens: Tokens,
    request: Request,
    *,
    role: str,
    action: str,
    target: str,
    work: Callable[[], Awaitable[Any]],
    missing: int = 400,
) -> Response:
    """The answer to a mutation: ``work``'s JSON result, or why it was refused or failed
    (``missing``: the status of a usage error, e.g. 404 when the target is unknown)."""
    who, denied = await tokens.check(request, role)
    if denied:
        await run_in_threadpool(tokens.audit, who, action, target, "refused")
        return denied
    try:
        doc = await work()
    except Problem as exc:
        outcome, answer = "refused", JSONResponse({"error": str(exc)}, exc.status)
    except UsageError as exc:
        outcome, answer = "refused", JSONResponse({"error": str(exc)}, missing)
    except ComindError as exc:
        outcome, answer = "failed", JSONResponse({"error": str(exc)}, 409)
    else:
        outcome, answer = "done", JSONResponse(doc)
    await run_in_threadpool(tokens.audit, who, action, target, outcome)
    return answer
