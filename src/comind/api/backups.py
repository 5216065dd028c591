"""``GET /api/v1/backups`` (viewer token, not limited to an app): the backup catalog, newest
first, with each backup's verification state and the WAL archive lag (the RPO). ``POST
/api/v1/backups/switch`` (operator token, audited): put restored data in place of the
platform's — ``{"engine": "postgres", "data_dir": PATH}`` (a restored, stopped cluster: what
``comind restore`` without ``--side`` ends with) or ``{"engine": "redis", "backup": ID}``
(a snapshot; null for the newest).

Operator token, audited, answered when the work is done: ``POST /api/v1/backups``
(``{"type": "full|incr|diff|logical|objects|redis", "app": A}``: take a backup now),
``POST /api/v1/backups/{id}/verify`` (restore it into a scratch cluster and check it),
``POST /api/v1/backups/prune`` (``{"keep_full": N, "keep_days": D, "dry_run": B}``) and
``POST /api/v1/backups/restore-points`` (``{"name": N}``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.audited import audited
from comind.api.bodies import parsed
from comind.api.tokens import Tokens
from comind.backup.catalog import BackupCatalog
from comind.backup.manifest import CatalogEntry, PgManifest, SealedManifest
from comind.errors import ComindError

Switch = Callable[[dict[str, Any]], dict[str, Any]]  # the request body -> what was done


class BackupActions(Protocol):
    """What the platform's backups service does on request."""

    def run(self, kind: str, app: str | None = None) -> dict[str, Any]: ...
    def verify(self, backup_id: str) -> dict[str, Any]: ...
    def prune(self, *, keep_full: int, keep_days: int | None, dry_run: bool) -> dict[str, Any]: ...
    def restore_point(self, name: str) -> dict[str, Any]: ...


class RunBody(BaseModel):
    type: str = "full"
    app: str | None = Field(default=None, max_length=63)


class PruneBody(BaseModel):
    keep_full: int = Field(default=4, ge=1)
    keep_days: int | None = Field(default=None, ge=1)
    dry_run: bool = False


class PointBody(BaseModel):
    name: str = Field(max_length=60)


class BackupsApi:
    def __init__(
        self,
        catalog: BackupCatalog,
        tokens: Tokens,
        wal_lag: Callable[[], float],
        switches: dict[str, Switch] | None = None,
        actions: BackupActions | None = None,
    ) -> None:
        self.catalog, self.tokens, self.wal_lag = catalog, tokens, wal_lag
        self.switches, self.actions = switches or {}, actions

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/backups", self.backups),
            Route("/api/v1/backups", self.run, methods=["POST"]),
            Route("/api/v1/backups/switch", self.switch_data, methods=["POST"]),
            Route("/api/v1/backups/prune", self.prune, methods=["POST"]),
            Route("/api/v1/backups/restore-points", self.restore_point, methods=["POST"]),
            Route("/api/v1/backups/{id}/verify", self.verify, methods=["POST"]),
        ]

    async def run(self, request: Request) -> Response:
        async def work(actions: BackupActions) -> dict[str, Any]:
            body = await parsed(request, RunBody)
            return await run_in_threadpool(actions.run, body.type, body.app)

        return await self._act(request, "backup-run", "backups", work)

    async def verify(self, request: Request) -> Response:
        backup_id = request.path_params["id"]

        async def work(actions: BackupActions) -> dict[str, Any]:
            return await run_in_threadpool(actions.verify, backup_id)

        return await self._act(request, "backup-verify", backup_id, work)

    async def prune(self, request: Request) -> Response:
        async def work(actions: BackupActions) -> dict[str, Any]:
            body = await parsed(request, PruneBody)
            return await run_in_threadpool(
                lambda: actions.prune(
                    keep_full=body.keep_full, keep_days=body.keep_days, dry_run=body.dry_run
                )
            )

        return await self._act(request, "backup-prune", "backups", work)

    async def restore_point(self, request: Request) -> Response:
        async def work(actions: BackupActions) -> dict[str, Any]:
            body = await parsed(request, PointBody)
            return await run_in_threadpool(actions.restore_point, body.name)

        return await self._act(request, "restore-point", "backups", work)

    async def _act(
        self,
        request: Request,
        action: str,
        target: str,
        work: Callable[[BackupActions], Awaitable[dict[str, Any]]],
    ) -> Response:
        actions = self.actions
        if actions is None:
            return JSONResponse({"error": "backups are not served here"}, 409)
        return await audited(self.tokens, request, role="operator", action=action,
                             target=target, work=lambda: work(actions))  # fmt: skip

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


def _out(row: CatalogEntry) -> dict[str, Any]:
    """A catalog row as the API answers it: its columns, and two facts of its manifest."""
    manifest = row.manifest
    out = row.model_dump(mode="json", exclude={"manifest"})
    out["sha256"] = manifest.sha256 if isinstance(manifest, SealedManifest) else None
    out["pg_version"] = manifest.pg_version if isinstance(manifest, PgManifest) else None
    return out
