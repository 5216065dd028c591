"""Who may call the API, and what was done through it (admin tokens only):

- ``GET  /api/v1/tokens``: every token (never the token itself);
- ``POST /api/v1/tokens`` ``{"role": ..., "app": ..., "expires": "30d"}``: a new token,
  answered once (201) and stored only as a hash;
- ``POST /api/v1/tokens/{id}/revoke``: revoke a token at once;
- ``POST /api/v1/sessions/end``: end every dashboard session (tokens stay valid);
- ``GET  /api/v1/audit?limit=N``: the audit log, newest first.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.session import LIFETIME_SECONDS
from comind.governance.access import ROLES, AccessStore, TokenInfo
from comind.spec.model import parse_duration

ADMIN = "admin"
MAX_AUDIT = 10_000


class AccessApi:
    def __init__(self, store: AccessStore, guard: Guard) -> None:
        self.store, self.guard = store, guard

    def routes(self) -> list[Route]:
        g = self.guard.route
        return [
            g("/api/v1/tokens", self.tokens, role=ADMIN),
            g("/api/v1/tokens", self.create, method="POST", role=ADMIN, action="token-create"),
            g(
                "/api/v1/tokens/{id}/revoke",
                self.revoke,
                method="POST",
                role=ADMIN,
                action="token-revoke",
            ),
            g(
                "/api/v1/sessions/end",
                self.end_sessions,
                method="POST",
                role=ADMIN,
                action="end-sessions",
            ),
            g("/api/v1/audit", self.audit, role=ADMIN),
        ]

    def tokens(self, call: Call) -> dict[str, Any]:
        return {"tokens": [_token(t) for t in self.store.tokens()]}

    def create(self, call: Call) -> Answer:
        role, app, expires = call.text("role"), call.text("app"), call.text("expires")
        if role not in ROLES:
            raise Problem(f"role must be one of {', '.join(ROLES)}", 400)
        if app is not None and not APP_NAME.fullmatch(app):
            # a spec's app names are DNS labels; the platform's own (``_flows``) are not
            raise Problem(f"app {app[:63]!r}: an app name is a DNS label of the spec", 400)
        token_id, token = self.store.create(role, app=app, ttl=_ttl(expires))
        doc = {"token": token, "id": token_id, "role": role, "app": app}
        return Answer(doc, 201, detail={"role": role, "app": app}, target=token_id)

    def revoke(self, call: Call) -> dict[str, Any]:
        token_id = call.params["id"]
        if not self.store.revoke(token_id):
            raise Problem(f"no active token {token_id}", 404)
        return {"id": token_id, "revoked": True}

    def end_sessions(self, call: Call) -> Answer:
        self.store.end_all_sessions(LIFETIME_SECONDS)
        return Answer({"ended": True}, target="dashboard")

    def audit(self, call: Call) -> dict[str, Any]:
        rows = self.store.recent_audit(call.number("limit", 50, 1, MAX_AUDIT))
        keys = ("id", "at", "actor", "action", "target", "outcome", "detail")
        return {"entries": [dict(zip(keys, map(_json, row), strict=True)) for row in rows]}


APP_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
MIN_TTL, MAX_TTL = timedelta(minutes=1), timedelta(days=3650)


def _ttl(expires: str | None) -> timedelta | None:
    if not expires:
        return None
    try:
        ttl = timedelta(seconds=int(parse_duration(expires)))
    except (ValueError, TypeError, OverflowError):
        raise Problem(f"expires {expires[:40]}: expected a duration like 12h or 30d", 400) from None
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise Problem(f"expires {expires}: between 1m and 3650d", 400)
    return ttl


def _token(t: TokenInfo) -> dict[str, Any]:
    return {"id": t.id, "role": t.role, "app": t.app, "created_at": _json(t.created_at),
            "expires_at": _json(t.expires_at), "revoked_at": _json(t.revoked_at)}  # fmt: skip


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
