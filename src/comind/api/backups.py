"""``GET /api/v1/backups`` (viewer token): the backup catalog, newest first, with each
backup's verification state and the WAL archive lag (the RPO)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.tokens import Tokens
from comind.stores.backup_catalog import BackupCatalog


class BackupsApi:
    def __init__(
        self, catalog: BackupCatalog, tokens: Tokens, wal_lag: Callable[[], float]
    ) -> None:
        self.catalog, self.tokens, self.wal_lag = catalog, tokens, wal_lag

    def routes(self) -> list[Route]:
        return [Route("/api/v1/backups", self.backups)]

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
