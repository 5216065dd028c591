"""``GET /api/v1/backups`` (viewer token, not limited to an app): the backup catalog, newest
first, with each backup's verification state and the WAL archive lag (the RPO). ``POST
/api/v1/backups/switch`` (admin token, audited): put restored data in place of the
platform's — ``{"engine": "postgres", "data_dir": PATH}`` (a restored, stopped cluster: what
``comind restore`` without ``--side`` ends with) or ``{"engine": "redis", "backup": ID}``
(a snapshot; null for the newest).

Operator token, audited, answered when the work is done: ``POST /api/v1/backups``
(``{"type": "full|incr|diff|logical|objects|redis", "app": A}``: take a backup now),
``POST /api/v1/backups/{id}/verify`` (restore it into a scratch cluster and check it),
``POST /api/v1/backups/prune`` (admin: ``{"keep_full": N, "keep_days": D, "dry_run": B}``) and
``POST /api/v1/backups/restore-points`` (``{"name": N}``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.tokens import Tokens
from comind.backup.catalog import BackupCatalog
from comind.backup.manifest import CatalogEntry, Manifest, PgManifest, SealedManifest
from comind.governance.access import Principal

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
        presence: Callable[[], Callable[[Manifest], list[str]]] = lambda: lambda manifest: [],
    ) -> None:
        self.catalog, self.tokens, self.wal_lag = catalog, tokens, wal_lag
        self.switches, self.actions, self.presence = switches or {}, actions, presence
        self.guard = Guard(tokens)

    def routes(self) -> list[Route]:
        post = self.guard.change
        # a switch replaces the database that holds the tokens and the audit log, and a prune
        # deletes backups: both are an admin's, not an operator's
        return [
            self.guard.route("/api/v1/backups", lambda call: self.document(call.who)),
            post(
                "/api/v1/backups/switch",
                self.switch_data,
                "restore-switch",
                target=_engine,
                role="admin",
            ),
            post(
                "/api/v1/backups",
                self.run,
                "backup-run",
                target=lambda n: str(n.get("type", "full")),
            ),
            post("/api/v1/backups/prune", self.prune, "backup-prune", role="admin"),
            post(
                "/api/v1/backups/restore-points",
                self.restore_point,
                "restore-point",
                target=lambda n: str(n.get("name")),
            ),
            post("/api/v1/backups/{id}/verify", self.verify, "backup-verify"),
        ]

    def switch_data(self, call: Call) -> Answer:
        engine = _engine(call.body)
        switch = self.switches.get(engine)
        if switch is None:
            raise Problem(f"cannot switch {engine!r} here", 409)
        try:
            doc = switch(call.body)
        except (KeyError, TypeError) as exc:
            raise Problem(f"missing or wrong field: {exc}", 400) from None
        return Answer(doc, detail=doc)

    def run(self, call: Call) -> Answer:
        body = call.parsed(RunBody)
        done = self._actions().run(body.type, body.app)
        return Answer(done, detail={"id": done.get("id"), "app": body.app}, target=body.type)

    def verify(self, call: Call) -> Answer:
        report = self._actions().verify(call.params["id"])
        return Answer(report, detail={"ok": report.get("ok")})

    def prune(self, call: Call) -> Answer:
        body = call.parsed(PruneBody)
        done = self._actions().prune(keep_full=body.keep_full, keep_days=body.keep_days,
                                     dry_run=body.dry_run)  # fmt: skip
        # what went, named in the audit entry (a dry run says what would have)
        return Answer(done, detail={k: done.get(k) for k in ("expired", "wal_removed", "dry_run")})

    def restore_point(self, call: Call) -> dict[str, Any]:
        return self._actions().restore_point(call.parsed(PointBody).name)

    def _actions(self) -> BackupActions:
        if self.actions is None:
            raise Problem("backups are not served here", 409)
        return self.actions

    def document(self, who: Principal) -> dict[str, Any]:
        """The catalog, newest first, and the WAL archive lag (blocking). What a failed
        restore test found (table names, row counts, checker output of every database) is
        for platform operators only: others see that it failed, not why."""
        missing = self.presence()  # one round: each bucket's blobs listed once
        details = who.may("operator") and who.app is None
        return {
            "backups": [_out(r, missing, details) for r in self.catalog.entries()],
            "wal_archive_lag_seconds": round(self.wal_lag(), 3),
        }


def _engine(named: Mapping[str, Any]) -> str:
    return str(named.get("engine", "postgres"))


def _out(
    row: CatalogEntry, missing: Callable[[Manifest], list[str]], details: bool
) -> dict[str, Any]:
    """A catalog row as the API answers it: its columns, two facts of its manifest, and for
    a complete backup whose files are gone from the store, status ``missing-files`` (never
    ``complete``) and the first of them."""
    manifest = row.manifest
    out = row.model_dump(mode="json", exclude={"manifest"})
    if not details and out["verify_error"]:
        out["verify_error"] = "withheld: a platform operator's token shows why"
    out["sha256"] = manifest.sha256 if isinstance(manifest, SealedManifest) else None
    out["pg_version"] = manifest.pg_version if isinstance(manifest, PgManifest) else None
    gone = missing(manifest) if row.complete() and manifest else []
    if gone:
        out |= {"status": "missing-files", "missing_files": gone[:10]}
    return out
