"""The GitOps control plane's records in the platform database.

``SecretStore`` keeps values the platform hands to apps (generated database and cache
passwords, unsealed secrets) sealed with the platform key, bound to their name.
``GitOpsRecords`` keeps the resource inventory (what the platform manages and the spec
last applied to each), the sync history and per-environment state (auto-sync paused by
a rollback, last good revision).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comind.governance.sealing import Sealer
from comind.stores.postgres import Json, Pool
from comind.stores.queries import named

_sql = named("comind.gitops", "records")


class SecretStore:
    """Named secret values, sealed at rest."""

    def __init__(self, pool: Pool, sealer: Sealer) -> None:
        self.pool, self.sealer = pool, sealer

    def get(self, name: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("get_secret"), {"name": name}).fetchone()
        return None if row is None else self.sealer.open(bytes(row[0]), context=name)

    def put(self, name: str, value: str) -> None:
        sealed = self.sealer.seal(value, context=name)
        with self.pool.connection() as conn:
            conn.execute(_sql("put_secret"), {"name": name, "value": sealed})

    def password(self, name: str) -> str:
        """The password stored as ``name``, generated (and stored) the first time."""
        value = self.get(name)
        if value is None:
            value = secrets.token_urlsafe(24)
            self.put(name, value)
        return value

    def delete(self, name: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("delete_secret"), {"name": name})


@dataclass(frozen=True)
class ResourceRecord:
    id: str
    kind: str
    app: str
    name: str
    spec: dict[str, Any]
    revision: str
    sync: str
    health: str
    message: str
    orphaned: bool
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SyncRecord:
    id: int
    env: str
    revision: str
    trigger: str
    dry_run: bool
    outcome: str
    message: str
    results: list[dict[str, Any]]
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class EnvironmentState:
    auto_sync_paused: bool = False
    paused_reason: str = ""
    last_good_revision: str | None = None
    last_error: str = ""


class GitOpsRecords:
    """Inventory, sync history and environment state."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def resources(self) -> list[ResourceRecord]:
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("resources")).fetchall()
        return [ResourceRecord(*row) for row in rows]

    def put_resource(self, record: ResourceRecord) -> None:
        args = {**record.__dict__, "spec": Json(record.spec)}
        with self.pool.connection() as conn:
            conn.execute(_sql("put_resource"), args)

    def set_status(self, resource_id: str, sync: str, health: str, message: str) -> None:
        args = {"id": resource_id, "sync": sync, "health": health, "message": message}
        with self.pool.connection() as conn:
            conn.execute(_sql("set_status"), args)

    def forget(self, resource_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("forget_resource"), {"id": resource_id})

    def start_sync(self, env: str, revision: str, trigger: str, *, dry_run: bool) -> int:
        args = {"env": env, "revision": revision, "trigger": trigger, "dry_run": dry_run}
        with self.pool.connection() as conn:
            row = conn.execute(_sql("start_sync"), args).fetchone()
        assert row is not None
        return int(row[0])

    def finish_sync(
        self, sync_id: int, outcome: str, message: str, results: list[dict[str, Any]]
    ) -> None:
        args = {"id": sync_id, "outcome": outcome, "message": message,
                "results": Json(json.loads(json.dumps(results, default=str)))}  # fmt: skip
        with self.pool.connection() as conn:
            conn.execute(_sql("finish_sync"), args)

    def syncs(self, env: str, limit: int = 20) -> list[SyncRecord]:
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("syncs"), {"env": env, "limit": limit}).fetchall()
        return [SyncRecord(*row) for row in rows]

    def sync(self, sync_id: int) -> SyncRecord | None:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("sync_by_id"), {"id": sync_id}).fetchone()
        return None if row is None else SyncRecord(*row)

    def environment(self, env: str) -> EnvironmentState:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("environment"), {"env": env}).fetchone()
        return EnvironmentState() if row is None else EnvironmentState(*row)

    def put_environment(self, env: str, state: EnvironmentState) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("put_environment"), {"env": env, **state.__dict__})
