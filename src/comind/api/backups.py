"""``GET /api/v1/backups`` (viewer token, not limited to an app): the backup catalog, newest
first, with each backup's verification state and the WAL archive lag (the RPO). ``POST
/api/v1/backups/switch`` (operator token, audited): put restored data in place of the
platform's — ``{"engine": "postgres", "data_dir": PATH}`` (a restored, stopped cluster: what
``comind restore`` without ``--side`` ends with) or ``{"engine": "redis", "backup": ID}``
(a snapshot; null for the newest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.tokens import Tokens
from comind.backup.catalog import BackupCatalog
from comind.errors import ComindError

Switch = Callable[[dict[str, Any]], dict[str, Any]]  # the request body -> what was done


class BackupsApi:
    def __init__(
        self,
        catalog: BackupCatalog,
        tokens: Tokens,
        wal_lag: Callable[[], float],
        switches: dict[str, Switch] | None = None,
    ) -> None:
        self.catalog, self.tokens, self.wal_lag = catalog, tokens, wal_lag
        self.switches = switches or {}

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/backups", self.backups),
            Route("/api/v1/backups/switch", self.switch_data, methods=["POST"]),
        ]

    async def switch_data(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, "operator")
        try:
            body = json.loads(await request.body())
            engine = str(body.get("engine", "postgres"))
        except (ValueError, AttributeError):
            return JSONResponse({"error": 'send {"engine": ..., ...} as JSON'}, 400)
        switch = self.switches.get(engine)
        if denied or switch is None:
            await run_in_threadpool(self.tokens.audit, who, "restore-switch", engine, "refused")
            return denied or JSONResponse({"error": f"cannot switch {engine!r} here"}, 409)
        try:
            doc = await run_in_threadpool(switch, body)
        except (KeyError, TypeError) as exc:
            return JSONResponse({"error": f"missing or wrong field: {exc}"}, 400)
        except ComindError as exc:
            await run_in_threadpool(self.tokens.audit, who, "restore-switch", engine, "failed")
            return JSONResponse({"error": str(exc)}, 409)
        await run_in_threadpool(self.tokens.audit, who, "restore-switch", engine, "accepted",
                                doc)  # fmt: skip
        return JSONResponse(doc)

    async def backups(self, request: Request) -> Response:
        if denied := await self.tokens.refuse(request):
            return denied
        return JSONResponse(await run_in_threadpool(self.document))

    def document(self) -> dict[str, Any]:
        """The catalog, newest first, and the WAL archive lag (blocking)."""
        return {
            "backups": [_out(r) for r in self.catalog.entries()],
            "wal_archive_lag_seconds": round(self.wal_lag(), 3),
        }


def _out(row: dict[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = row.get("manifest") or {}
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()
           if k != "manifest"}  # fmt: skip
    out["sha256"] = manifest.get("sha256")
    out["pg_version"] = manifest.get("pg_version")
    return out
