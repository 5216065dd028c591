"""The error of a request the API or the dashboard refuses or cannot serve."""

from __future__ import annotations

from comind.errors import ComindError


class Problem(ComindError):
    """A request that may not or cannot be served; ``status`` is the HTTP status saying why
    (403: not allowed, anything else: it could not be done)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
