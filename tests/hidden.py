"""Secrets that stay out of test output: a failed assertion prints the values in it, so a
token, and headers carrying one, print as stars. (Check that a secret is *absent* from a
text through a boolean first: a failing ``secret not in text`` would print the text.)"""

from __future__ import annotations

from comind.embedded.home import StateDir


class Hidden(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


class HiddenHeaders(dict[str, str]):
    def __repr__(self) -> str:
        return "{'Authorization': '***'}"


def bearer(token: str) -> HiddenHeaders:
    return HiddenHeaders(Authorization=f"Bearer {token}")


def builtin_headers(home: StateDir, role: str) -> HiddenHeaders:
    """Headers with the state directory's own ``admin`` or ``viewer`` API token."""
    return bearer(home.secret(f"api-{role}-token"))
