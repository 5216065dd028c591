"""The one wrapper around the control API's JSON routes: who may call a route, how big its
body may be, what its errors mean, and — for every mutation — the one audit entry.

A route's handler is a plain blocking function of a :class:`Call`; the wrapper runs it in a
worker thread. Every route whose method changes something must name an audit ``action``
(constructing it without one fails), and the wrapper alone writes the entry: ``refused``,
``failed`` or ``accepted``, so no route can forget it. A read may name one too (reading
secrets is audited as ``read-secrets``).

Errors become one-line JSON answers: :class:`~comind.api.errors.Problem` carries its status,
a :class:`~comind.errors.UsageError` is 400, another :class:`~comind.errors.ComindError` 409,
and an engine that is unavailable (PostgreSQL restarting) is 503 at once — the API's pool
waits only briefly for a connection — which the CLI retries for a bounded time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.limits import read_bounded
from comind.api.tokens import Tokens, forbidden
from comind.errors import ComindError, UsageError
from comind.governance.access import Principal
from comind.stores.errors import refused_value, unavailable

MAX_BODY = 64 * 1024  # the control API's bodies are small documents
MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Body = TypeVar("Body", bound=BaseModel)


@dataclass(frozen=True)
class Call:
    """One authorized request, as a handler sees it."""

    who: Principal
    params: Mapping[str, str]  # path parameters
    # one source of values per request: a change has only its body, a read only its query
    # string, so a value cannot say one thing to the handler and another to the scope check
    query: Mapping[str, str]
    body: dict[str, Any]

    def number(self, key: str, default: int, low: int, high: int) -> int:
        """The whole number ``key`` of the query string or body, bounded to [low, high]."""
        raw = self.query.get(key, self.body.get(key))
        if raw is None:
            return default
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise Problem(f"{key} must be a whole number", 400) from None
        if not low <= value <= high:
            raise Problem(f"{key} must be between {low} and {high}", 400)
        return value

    def parsed(self, model: type[Body]) -> Body:
        """The body as ``model``; a 400 names the first field that is wrong."""
        try:
            return model.model_validate(self.body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise Problem(f"{where}: {first['msg']}", 400) from None

    def text(self, key: str) -> str | None:
        """The string ``key`` of the query string or body (None when absent or empty)."""
        raw = self.query.get(key, self.body.get(key))
        if raw is not None and not isinstance(raw, str):
            raise Problem(f"{key} must be a string", 400)
        return raw or None


@dataclass(frozen=True)
class Answer:
    """A handler's answer when 200 and no audit detail will not do."""

    doc: Any
    status: int = 200
    detail: dict[str, Any] | None = None  # recorded in the audit entry (never secrets)
    target: str | None = None  # what the audit entry names, when the path does not say


Handler = Callable[[Call], Any]  # returns a JSON document or an Answer
# what a request names (its path and query parameters and its body's fields, merged):
# the app it concerns (None: every app) and the audit entry's target
AppOf = Callable[[Mapping[str, Any]], str | None]
TargetOf = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Rule:
    role: str
    action: str | None
    app: AppOf | None
    target: TargetOf | None


class Guard:
    def __init__(self, tokens: Tokens, *, max_body: int = MAX_BODY) -> None:
        self.tokens, self.max_body = tokens, max_body

    def route(
        self,
        path: str,
        handler: Handler,
        *,
        method: str = "GET",
        role: str = "viewer",
        action: str | None = None,
        app: AppOf | None = None,
        target: TargetOf | None = None,
    ) -> Route:
        """``handler`` served at ``method path`` for tokens of at least ``role`` (of the app
        ``app`` names, else of every app); audited as ``action`` on ``target`` (default: the
        first path parameter, else ``*``)."""
        if method in MUTATIONS and action is None:
            raise ValueError(f"{method} {path} changes something: name its audit action")
        rule = Rule(role, action, app, target)

        async def endpoint(request: Request) -> Response:
            return await self.serve(request, handler, rule)

        return Route(path, endpoint, methods=[method])

    def change(
        self,
        path: str,
        handler: Handler,
        action: str,
        *,
        role: str = "operator",
        app: AppOf | None = None,
        target: TargetOf | None = None,
    ) -> Route:
        """A ``POST`` route that changes something, audited as ``action``."""
        return self.route(path, handler, method="POST", role=role, action=action, app=app,
                          target=target)  # fmt: skip

    async def serve(self, request: Request, handler: Handler, rule: Rule) -> Response:
        params = {k: str(v) for k, v in request.path_params.items()}
        target = next(iter(params.values()), "*")
        who: Principal | None = None
        try:
            # who is asking, before a byte of the body is read: an anonymous caller cannot
            # make the platform hold or parse anything
            who = await self.tokens.principal(request)
            if who is None:
                await self._audit(rule, None, target, "refused")
                return JSONResponse({"error": "unauthorized: send a valid Bearer token"}, 401)
            if not who.may(rule.role, who.app):  # too low a role for any app: the body can't help
                await self._audit(rule, who, target, "refused")
                return forbidden(who, rule.role, "")
            body = await self._body(request)
            named = {**(request.query_params if request.method not in MUTATIONS else {}),
                     **body, **params}  # fmt: skip
            target = rule.target(named) if rule.target else target
            app = rule.app(named) if rule.app else None
            if not who.may(rule.role, app):
                await self._audit(rule, who, target, "refused")
                return forbidden(who, rule.role, f" for app {app}" if app else " for every app")
            query = request.query_params if request.method not in MUTATIONS else {}
            answer = await run_in_threadpool(handler, Call(who, params, query, body))
        except Exception as exc:
            status, message = _failure(exc)
            outcome = "refused" if status == 403 else "failed"
            await self._audit(rule, who, target, outcome, {"error": message})
            if status == 500:
                raise  # a bug: the server log keeps its traceback
            return JSONResponse({"error": message}, status)
        if not isinstance(answer, Answer):
            answer = Answer(answer)
        await self._audit(rule, who, answer.target or target, "accepted", answer.detail)
        return JSONResponse(answer.doc, answer.status)

    async def _body(self, request: Request) -> dict[str, Any]:
        """The JSON object the request sent ({} for none), refused beyond ``max_body``."""
        if request.method not in MUTATIONS:
            return {}
        raw = await read_bounded(request, self.max_body)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise Problem("the request body must be JSON", 400) from None
        if not isinstance(body, dict):
            raise Problem("the request body must be a JSON object", 400)
        return body

    async def _audit(self, rule: Rule, who: Principal | None, target: str, outcome: str,
                     detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        if rule.action is not None:
            await run_in_threadpool(self.tokens.audit, who, rule.action, target, outcome, detail)


def _failure(exc: Exception) -> tuple[int, str]:
    """The status and one line for an exception a handler (or the token check) raised."""
    engine = unavailable(exc)
    if engine is not None:
        return 503, f"{engine} is unavailable right now (restarting?); try again shortly"
    refused = refused_value(exc)
    if refused is not None:
        return 400, refused
    if isinstance(exc, Problem):
        return exc.status, str(exc)
    if isinstance(exc, UsageError):
        return 400, str(exc)
    if isinstance(exc, ComindError):
        return 409, str(exc)
    return 500, "internal error"
