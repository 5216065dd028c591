"""The shapes of the backup API's bodies (``/api/v1/backups...``), for the OpenAPI document
(see :mod:`comind.api.openapi_schemas` for the rest and how they are checked)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from comind.api.openapi_schemas import Closed


class Backup(Closed):
    id: str
    kind: Literal["full", "incr", "diff", "logical", "objects", "redis"]
    app: str | None
    parent: str | None
    status: Literal["running", "complete", "failed", "expired", "missing-files"] = Field(
        description="missing-files: complete, but files of it are gone from the backup store "
        "(checked on every listing)"
    )
    missing_files: list[str] | None = Field(None, description="the first ten of them")
    started_at: datetime
    finished_at: datetime | None
    start_lsn: str | None
    stop_lsn: str | None
    timeline: int | None
    size_bytes: int
    key_id: str | None
    error: str | None
    verify_status: Literal["verified", "failed"] | None = Field(
        description="the last restore test's outcome (null: not tested yet)"
    )
    verified_at: datetime | None
    verify_error: str | None
    verify_seconds: float | None = Field(description="how long the last restore test took")
    restore_seconds: float | None = Field(
        description="how long its restore took until the copy served (the RTO's base)"
    )
    replay_bytes_per_second: float | None
    verify_count: int = Field(description="restore tests run on this backup")
    sha256: str | None
    pg_version: str | int | None


class BackupList(Closed):
    backups: list[Backup] = Field(description="newest first")
    wal_archive_lag_seconds: float = Field(description="the RPO: WAL not archived yet")


class SwitchRequest(BaseModel):
    engine: Literal["postgres", "redis"] = "postgres"
    data_dir: str | None = Field(None, description="postgres: the restored, stopped cluster")
    backup: str | None = Field(None, description="redis: the snapshot (null: the newest)")


class Switched(BaseModel):
    """What was put in place and where the replaced data was set aside."""

    model_config = ConfigDict(extra="allow")
    old_data_dir: str


class BackupTaken(BaseModel):
    """The new backup's summary: its manifest without file lists (fields by type)."""

    model_config = ConfigDict(extra="allow")
    id: str
    type: str


class Verified(Closed):
    backup: str
    kind: str
    ok: bool
    tables_compared: int
    objects_checked: int
    keys: int | None
    problems: list[str]
    amcheck: str
    verifybackup: str
    seconds: float
    restore_seconds: float | None
    replay_bytes_per_second: float | None


class PruneReport(Closed):
    expired: list[str]
    wal_removed: int
    kept: list[str]
    dry_run: bool = Field(description="true: nothing was removed, this is what would go")


class RestorePoint(Closed):
    name: str
    lsn: str
    time: datetime
