"""Session cookies and CSRF tokens: what is signed cannot be altered, moved or kept past
its lifetime, and a CSRF token belongs to one session."""

from __future__ import annotations

from comind.api.session import Sessions
from comind.governance.access import token_hash

KEY = b"k" * 32


def test_a_cookie_reads_back_as_the_session_it_was_issued_for() -> None:
    sessions = Sessions(KEY)
    session, value = sessions.issue(token_hash("secret-token"))
    assert sessions.read(value) == session
    assert session.signed_in and "secret-token" not in value


def test_an_altered_or_foreign_cookie_is_no_session() -> None:
    sessions = Sessions(KEY)
    _, value = sessions.issue(token_hash("viewer"))
    digest, nonce, expires, mac = value.split(".")
    other = token_hash("admin")
    assert sessions.read(".".join([other, nonce, expires, mac])) is None
    assert sessions.read(".".join([digest, nonce, str(int(expires) + 3600), mac])) is None
    assert Sessions(b"x" * 32).read(value) is None  # signed under another platform's key
    for junk in (None, "", "a.b.c", "a.b.c.d", value + ".x", f"{digest}.{nonce}.{expires}.ä"):
        assert sessions.read(junk) is None


def test_a_session_ends_after_its_lifetime() -> None:
    now = [1000.0]
    sessions = Sessions(KEY, lifetime=60, clock=lambda: now[0])
    _, value = sessions.issue(token_hash("t"))
    now[0] += 59
    assert sessions.read(value) is not None
    now[0] += 2
    assert sessions.read(value) is None


def test_a_csrf_token_belongs_to_its_session_only() -> None:
    sessions = Sessions(KEY)
    first, _ = sessions.issue(token_hash("t"))
    second, _ = sessions.issue(token_hash("t"))
    assert sessions.csrf_ok(first, sessions.csrf(first))
    assert not sessions.csrf_ok(first, sessions.csrf(second))
    assert not sessions.csrf_ok(first, "")
    assert not sessions.csrf_ok(first, None)
    assert not sessions.csrf_ok(first, "ä" * 64)


def test_an_anonymous_session_is_not_signed_in() -> None:
    sessions = Sessions(KEY)
    session, value = sessions.issue()
    assert sessions.read(value) == session and not session.signed_in
