"""Dashboard sessions: a signed cookie, and a list of the sessions ended before their time.

A session names the SHA-256 of the API token that signed in (never the token itself), a
random id and an expiry, signed with HMAC-SHA256 under a key kept in the state directory.
The caller is looked up again from that hash on every request, so revoking a token ends its
sessions at once, while a platform restart keeps them. Signing out records the session's id
in the platform database, and every request checks that list (see
:class:`~comind.api.tokens.Tokens`): a copy of the cookie dies with the session, the
built-in tokens' sessions included. A session's CSRF token is derived from its id, so forms
need no stored state; every sign-in gets a new id. Before sign-in the login form has an
anonymous session (an empty hash) for the same CSRF check, so another site cannot sign a
browser in under a token of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response

COOKIE = "comind_session"
LIFETIME_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    token_hash: str  # empty before sign-in
    id: str
    expires: float  # epoch seconds, to the millisecond

    @property
    def signed_in(self) -> bool:
        return bool(self.token_hash)


class Sessions:
    """Issues and checks session cookies and their CSRF tokens under one key."""

    def __init__(
        self,
        key: bytes,
        *,
        lifetime: int = LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key, self.lifetime, self.clock = key, lifetime, clock

    def issue(self, token_hash: str = "") -> tuple[Session, str]:
        """A new session for ``token_hash`` (anonymous when empty) and its cookie value."""
        # in milliseconds, rounded down: "end every session" compares expiries, so a session
        # issued before it always counts as ended (one issued within the same millisecond
        # after it does too, which only asks for another sign-in)
        expires_ms = int((self.clock() + self.lifetime) * 1000)
        session = Session(token_hash, secrets.token_urlsafe(16), expires_ms / 1000)
        payload = f"{session.token_hash}.{session.id}.{expires_ms}"
        return session, f"{payload}.{self._mac('session', payload)}"

    def read(self, value: str | None) -> Session | None:
        """The session a cookie value carries, or None when it is forged, altered or old."""
        parts = (value or "").split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3].encode(), self._mac("session", payload).encode()):
            return None
        session = Session(parts[0], parts[1], int(parts[2]) / 1000)
        return session if session.expires > self.clock() else None

    def csrf(self, session: Session) -> str:
        return self._mac("csrf", session.id)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf(session).encode())

    def _mac(self, purpose: str, text: str) -> str:
        message = f"{purpose}:{text}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def set_cookie(response: Response, value: str, *, secure: bool, max_age: int) -> None:
    """The session cookie: script cannot read it, no other site's request carries it, and
    over TLS it never travels in clear."""
    response.set_cookie(
        COOKIE, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict"
    )
