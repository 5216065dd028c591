"""``GET /api/v1/backups`` (viewer token, not limited to an app): the backup catalog, newest
first, with each backup's verification state and the WAL archive lag (the RPO). ``POST
/api/v1/backups/switch`` (operator token, audited): put a restored, stopped cluster in place
of the platform's PostgreSQL data (what ``comind restore`` without ``--side`` ends with)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.tokens import Tokens
from comind.errors import ComindError
from comind.stores.backup_catalog import BackupCatalog

Switch = Callable[[Path], dict[str, Any]]


class BackupsApi:
    def __init__(
        self,
        catalog: BackupCatalog,
        tokens: Tokens,
        wal_lag: Callable[[], float],
        switch: Switch | None = None,
    ) -> None:
        self.catalog, self.tokens, self.wal_lag, self.switch = catalog, tokens, wal_lag, switch

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/backups", self.backups),
            Route("/api/v1/backups/switch", self.switch_data, methods=["POST"]),
        ]

    async def switch_data(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, "operator")
        if denied or self.switch is None:
            await run_in_threadpool(self.tokens.audit, who, "restore-switch", "postgres", "refused")
            return denied or JSONResponse({"error": "this platform cannot switch its data"}, 409)
        try:
            data_dir = Path(str(json.loads(await request.body())["data_dir"]))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"data_dir": PATH}'}, 400)
        try:
            doc = await run_in_threadpool(self.switch, data_dir)
        except ComindError as exc:
            await run_in_threadpool(self.tokens.audit, who, "restore-switch", str(data_dir),
                                    "failed")  # fmt: skip
            return JSONResponse({"error": str(exc)}, 409)
        await run_in_threadpool(self.tokens.audit, who, "restore-switch", str(data_dir),
                                "accepted", doc)  # fmt: skip
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
