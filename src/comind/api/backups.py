"""``GET /api/v1/backups`` (viewer token, not limited to an app): the backup catalog, newest
first, with each backup's verification state and the WAL archive lag (the RPO). ``POST
/api/v1/backups/switch`` (operator token, audited): put restored data in place of the
platform's — ``{"engine": "postgres", "data_dir": PATH}`` (a restored, stopped cluster: what
``comind restore`` without ``--side`` ends with) or ``{"engine": "redis", "backup": ID}``
(a snapshot; null for the newest)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.tokens import Tokens
from comind.stores.backup_catalog import BackupCatalog

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
        self.guard = Guard(tokens)

    def routes(self) -> list[Route]:
        return [
            self.guard.route("/api/v1/backups", lambda call: self.document()),
            self.guard.route(
                "/api/v1/backups/switch",
                self.switch_data,
                method="POST",
                role="operator",
                action="restore-switch",
                target=_engine,
            ),
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

    def document(self) -> dict[str, Any]:
        """The catalog, newest first, and the WAL archive lag (blocking)."""
        return {
            "backups": [_out(r) for r in self.catalog.entries()],
            "wal_archive_lag_seconds": round(self.wal_lag(), 3),
        }


def _engine(named: Mapping[str, Any]) -> str:
    return str(named.get("engine", "postgres"))


def _out(row: dict[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = row.get("manifest") or {}
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()
           if k != "manifest"}  # fmt: skip
    out["sha256"] = manifest.get("sha256")
    out["pg_version"] = manifest.get("pg_version")
    return out
