"""Bearer tokens of the platform API: a viewer token for reads, an admin token for changes."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class Tokens:
    def __init__(self, *, admin: str, viewer: str) -> None:
        self.admin, self.viewer = admin, viewer

    def allowed(self, request: Request, *, admin: bool) -> bool:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        tokens = [self.admin] if admin else [self.admin, self.viewer]
        return any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens)

    def refuse(self, request: Request, *, admin: bool = False) -> Response | None:
        """None when the request may go on, else the 401 answer."""
        if self.allowed(request, admin=admin):
            return None
        need = "the admin token" if admin else "a viewer or admin token"
        return JSONResponse({"error": f"unauthorized: send {need} as a Bearer token"}, 401)
