"""Who may call the platform API: Bearer tokens with roles (viewer < operator < admin),
optionally limited to one app. The two built-in tokens of the state directory (admin,
viewer) always work; others are created with ``comind token create`` and checked hashed."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from comind.stores.access import AccessStore, Principal


class Tokens:
    def __init__(self, *, admin: str, viewer: str, store: AccessStore | None = None) -> None:
        self.admin, self.viewer, self.store = admin, viewer, store

    async def principal(self, request: Request) -> Principal | None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not given:
            return None
        if hmac.compare_digest(given.encode(), self.admin.encode()):
            return Principal("builtin-admin", "admin")
        if hmac.compare_digest(given.encode(), self.viewer.encode()):
            return Principal("builtin-viewer", "viewer")
        if self.store is not None and given.startswith("cmt_"):
            return await run_in_threadpool(self.store.principal, given)
        return None

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
            scope = f" for app {app}" if app else ""
            return who, JSONResponse({"error": f"forbidden: needs role {role}{scope}"}, 403)
        return who, None

    async def refuse(self, request: Request, role: str = "viewer") -> Response | None:
        return (await self.check(request, role, filtered=True))[1]
