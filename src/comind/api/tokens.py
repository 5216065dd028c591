"""Who may call the platform API: Bearer tokens with roles (viewer < operator < admin),
optionally limited to one app. The two built-in tokens of the state directory (admin,
viewer) always work; others are created with ``comind token create`` and checked hashed.

A dashboard session (see :mod:`comind.api.session`) stands for the token that signed in,
until it expires, the token is revoked or the session is ended (sign-out): pages use it, and
so do API reads (GET), which lets the dashboard's charts query the API. Changes through the
API still need the Bearer header, so no other site can make a browser change anything with
its cookie.

An app token sees its app's part of a view; views of the whole platform (flows, backups,
metrics, alerts, the environment's errors) are for tokens of every app.

Refusals of callers without a token are audited up to ``ANONYMOUS_PER_MINUTE`` a minute
(enough to see a password guesser at work), then only counted: anyone who reaches the port
can send them, and each entry is a database write.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from comind.api.session import COOKIE, Session, Sessions
from comind.governance.access import AccessStore, Principal, token_hash
from comind.observe.metrics import AUDIT_SKIPPED
from comind.stores.errors import unavailable

READS = ("GET", "HEAD")


MAX_TARGET = 200  # characters of an audit entry's target
ANONYMOUS_PER_MINUTE = 60
log = logging.getLogger("comind.api")


class _Budget:
    """At most ``per_minute`` takes in each minute (a fixed window; thread-safe)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute, self._minute, self._taken = per_minute, -1, 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        minute = int(time.monotonic() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._taken = minute, 0
            self._taken += 1
            return self._taken <= self.per_minute


class Tokens:
    def __init__(
        self,
        *,
        admin: str,
        viewer: str,
        store: AccessStore | None = None,
        sessions: Sessions | None = None,
    ) -> None:
        self.admin, self.viewer, self.store, self.sessions = admin, viewer, store, sessions
        self._anonymous = _Budget(ANONYMOUS_PER_MINUTE)
        self._builtin = {
            token_hash(admin): Principal("builtin-admin", "admin"),
            token_hash(viewer): Principal("builtin-viewer", "viewer"),
        }

    async def principal(self, request: Request) -> Principal | None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if given:
            return await self.of_token(given)
        if request.method in READS:
            found = await self.session(request)
            return found[1] if found else None
        return None

    async def of_token(self, token: str) -> Principal | None:
        digest = token_hash(token)
        builtin = self._builtin_of(digest)
        if builtin is not None or self.store is None or not token.startswith("cmt_"):
            return builtin
        return await run_in_threadpool(self.store.principal_by_hash, digest)

    async def session(self, request: Request) -> tuple[Session, Principal] | None:
        """The signed-in dashboard session of ``request`` and whom it stands for."""
        if self.sessions is None:
            return None
        session = self.sessions.read(request.cookies.get(COOKIE))
        if session is None or not session.signed_in:
            return None
        who = await run_in_threadpool(self._holder, session)
        return (session, who) if who else None

    def end_session(self, session: Session) -> None:
        """Refuse ``session`` from now on, whoever holds a copy of its cookie (blocking)."""
        if self.store is not None:
            self.store.end_session(session.id, session.expires)

    def _holder(self, session: Session) -> Principal | None:
        """Whom a signed-in session stands for, unless it was ended."""
        if self.store is not None and self.store.session_ended(session.id, session.expires):
            return None
        return self._of_hash(session.token_hash)

    def _of_hash(self, digest: str) -> Principal | None:
        builtin = self._builtin_of(digest)
        if builtin is not None or self.store is None:
            return builtin
        return self.store.principal_by_hash(digest)

    def _builtin_of(self, digest: str) -> Principal | None:
        for known, who in self._builtin.items():
            if hmac.compare_digest(known, digest):
                return who
        return None

    def audit(self, who: Principal | None, action: str, target: str, outcome: str,
              detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        """One audit-log entry (blocking: call it in a worker thread) — the one writer every
        API route and dashboard form goes through. A caller's long target is cut at
        ``MAX_TARGET``; an entry the restarting database cannot take is logged as missing
        (the answer to the request stands)."""
        if self.store is None:
            return
        if who is None and not self._anonymous.take():
            AUDIT_SKIPPED.inc()
            return
        if len(target) > MAX_TARGET:
            target = target[: MAX_TARGET - 1] + "…"
        try:
            self.store.audit(who.id if who else "anonymous", action, target, outcome, detail)
        except Exception as exc:
            if unavailable(exc) is None:
                raise
            log.warning("audit entry %s %s %s not written: %s unavailable", action, target,
                        outcome, unavailable(exc))  # fmt: skip

    async def check(
        self,
        request: Request,
        role: str = "viewer",
        app: str | None = None,
        *,
        filtered: bool = False,
    ) -> tuple[Principal | None, Response | None]:
        """The caller, or the answer refusing it: 401 without a valid token, 403 when its
        role is too low or it is limited to another app (``filtered``: the caller narrows
        what it answers to the token's app itself)."""
        who = await self.principal(request)
        if who is None:
            return None, JSONResponse({"error": "unauthorized: send a valid Bearer token"}, 401)
        if not who.may(role, who.app if filtered else app):
            scope = f" for app {app}" if app else "" if filtered else " for every app"
            return who, forbidden(who, role, scope)
        return who, None

    async def refuse(self, request: Request, role: str = "viewer") -> Response | None:
        """The answer refusing a caller of a view of the whole platform: 401 without a valid
        token, 403 below ``role`` or with a token limited to one app."""
        return (await self.check(request, role))[1]


def forbidden(who: Principal, role: str, scope: str = "") -> Response:
    """403 for ``who``, saying the role needed and the role held (a client can word it)."""
    doc = {"error": f"forbidden: needs role {role}{scope}", "needs": role, "role": who.role,
           "app": who.app}  # fmt: skip
    return JSONResponse(doc, 403)
