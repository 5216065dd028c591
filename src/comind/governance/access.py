"""API tokens with roles, stored hashed, and the audit log.

A token reads ``cmt_<id>_<secret>``: the id names it in listings and the audit log; only the
SHA-256 of the whole token is stored, so the platform cannot show it again. Roles rank
``viewer`` < ``operator`` < ``admin``; a token may be limited to one app.

Dashboard sessions are signed cookies, not rows; what is stored is the sessions ended before
their time (sign-out, or all of them at once), each until it would have expired anyway.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from comind.errors import UsageError
from comind.stores.postgres import Json, Pool
from comind.stores.queries import named

_sql = named("comind.governance", "access")

ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    app: str | None = None

    def may(self, role: str, app: str | None = None) -> bool:
        """At least ``role``; an app token only for its own app."""
        if ROLES.index(self.role) < ROLES.index(role):
            return False
        return self.app is None or app == self.app


@dataclass(frozen=True)
class TokenInfo:
    id: str
    role: str
    app: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccessStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def create(self, role: str, *, app: str | None = None, ttl: timedelta | None = None,
               now: datetime | None = None) -> tuple[str, str]:  # fmt: skip
        """A new token: (its id, the token itself, shown once)."""
        if role not in ROLES:
            raise UsageError(f"role must be one of {', '.join(ROLES)}")
        token_id = secrets.token_hex(4)
        token = f"cmt_{token_id}_{secrets.token_urlsafe(24)}"
        expires = (now or datetime.now().astimezone()) + ttl if ttl else None
        with self.pool.connection() as conn:
            conn.execute(_sql("create_token"), {"id": token_id,
                         "hash": token_hash(token), "role": role, "app": app,
                         "expires_at": expires})  # fmt: skip
        return token_id, token

    def principal_by_hash(self, digest: str) -> Principal | None:
        """The live (unexpired, unrevoked) token whose SHA-256 is ``digest``."""
        with self.pool.connection() as conn:
            found = conn.execute(_sql("token_by_hash"), {"hash": digest}).fetchone()
        return Principal(*found) if found else None

    def revoke(self, token_id: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("revoke_token"), {"id": token_id}).fetchone()
        return row is not None

    def tokens(self) -> list[TokenInfo]:
        with self.pool.connection() as conn:
            return [TokenInfo(*r) for r in conn.execute(_sql("tokens")).fetchall()]

    def end_session(self, session_id: str, expires: float) -> None:
        """Refuse the session ``session_id`` (which expires at epoch ``expires``) from now on."""
        with self.pool.connection() as conn:
            conn.execute(_sql("end_session"), {"id": session_id, "expires": expires})
            conn.execute(_sql("prune_ended_sessions"))

    def end_all_sessions(self, lifetime: int) -> None:
        """Refuse every session issued until now (a session lives ``lifetime`` seconds)."""
        with self.pool.connection() as conn:
            conn.execute(_sql("end_all_sessions"), {"lifetime": lifetime})
            conn.execute(_sql("prune_ended_sessions"))

    def session_ended(self, session_id: str, expires: float) -> bool:
        """Whether the session ``session_id`` (expiring at ``expires``) was ended."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("session_ended"),
                               {"id": session_id, "expires": expires}).fetchone()  # fmt: skip
        return bool(row and row[0])

    def audit(self, actor: str, action: str, target: str, outcome: str,
              detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        with self.pool.connection() as conn:
            conn.execute(_sql("audit"), {"actor": _plain(actor), "action": _plain(action),
                         "target": _plain(target), "outcome": _plain(outcome),
                         "detail": Json(detail or {})})  # fmt: skip

    def recent_audit(self, limit: int = 50) -> list[tuple[Any, ...]]:
        with self.pool.connection() as conn:
            return list(conn.execute(_sql("recent_audit"), {"limit": limit}))


def _plain(text: str) -> str:
    """``text`` without control characters (each becomes U+FFFD): a caller chooses targets,
    and the audit chain hashes fields joined by one (``chr(31)``)."""
    return "".join("\ufffd" if ord(c) < 32 or ord(c) == 127 else c for c in text)
