"""Backup manifests as typed models: one per kind (physical full/incr/diff, logical, objects,
redis), told apart by ``type``, and the catalog's row of a backup.

A manifest is stored twice, as JSON in the backup store (what a disaster recovery finds)
and as JSONB in the catalog. Its JSON shape is a compatibility contract: field names and
value formats are exactly those earlier versions wrote, so every stored backup still
parses and restores. Fields added over time have defaults (an old manifest lacks them);
fields this version does not know are kept (``extra="allow"``) and written back unchanged.
Timestamps are written as ``datetime.isoformat()`` (``+00:00``, not pydantic's ``Z``) and
LSNs as PostgreSQL prints them (``0/3000060``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    TypeAdapter,
)
from pydantic_core import core_schema

PhysicalKind = Literal["full", "incr", "diff"]
Kind = Literal["full", "incr", "diff", "logical", "objects", "redis"]
Timestamp = Annotated[AwareDatetime, PlainSerializer(lambda t: t.isoformat(), when_used="json")]
TableCounts = dict[str, dict[str, int | None]]  # database -> table -> rows (None: written to)


@dataclass(frozen=True, order=True)
class Lsn:
    """A WAL position; ordered by value, written as PostgreSQL writes it (``0/3000060``)."""

    value: int

    @classmethod
    def parse(cls, text: str) -> Lsn:
        """``text`` (like ``0/3000060``) as an Lsn, or ValueError."""
        hi, sep, lo = text.partition("/")
        if not sep:
            raise ValueError(f"{text!r} is not an LSN (like 0/3000060)")
        return cls((int(hi, 16) << 32) | int(lo, 16))

    def __str__(self) -> str:
        return f"{self.value >> 32:X}/{self.value & 0xFFFFFFFF:X}"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        from_text = core_schema.no_info_after_validator_function(
            cls.parse, core_schema.str_schema()
        )
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_text]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


class _Manifest(BaseModel):
    """What every backup's manifest holds."""

    model_config = ConfigDict(extra="allow")

    id: str
    key_id: str
    size_bytes: int = 0
    seconds: float = 0.0


class SealedManifest(_Manifest):
    """A backup stored as sealed artifacts, all of them covered by one SHA-256."""

    artifacts: list[str]
    sha256: str


class PgManifest(SealedManifest):
    """A backup of PostgreSQL: where in the WAL it ends."""

    start_lsn: Lsn
    stop_lsn: Lsn
    timeline: int
    stop_time: Timestamp
    pg_version: str


class PhysicalManifest(PgManifest):
    """``pg_basebackup`` of the whole cluster; ``parent``: the backup an incremental one
    builds on; ``note``: why a full one was taken when an incremental one was asked for."""

    type: PhysicalKind
    format: str
    start_wal: str = ""  # written since WAL retention: older ones replay from the first file
    start_time: Timestamp
    pg_version_num: int | None = None
    source_bytes: int = 0
    pg_manifest: str | None = None
    databases: list[str] = Field(default_factory=list)
    tables: TableCounts = Field(default_factory=dict)
    parent: str | None = None
    note: str | None = None


class LogicalManifest(PgManifest):
    """``pg_dump -Fc`` of one app's database."""

    type: Literal["logical"]
    app: str
    database: str
    tables: TableCounts = Field(default_factory=dict)  # rows of the tables no one wrote to


class ObjectsManifest(_Manifest):
    """Every backed-up bucket's listing (key -> etag); the blobs are shared by etag."""

    type: Literal["objects"]
    buckets: dict[str, dict[str, str]]
    uploaded: int = 0
    reused: int = 0


class RedisManifest(SealedManifest):
    """A Redis ``BGSAVE`` snapshot."""

    type: Literal["redis"]
    source_bytes: int = 0
    keys: int = 0
    keys_exact: bool = False  # nothing was written while the snapshot was taken
    redis_version: str | None = None


Manifest = Annotated[
    PhysicalManifest | LogicalManifest | ObjectsManifest | RedisManifest,
    Field(discriminator="type"),
]
MANIFEST: TypeAdapter[Manifest] = TypeAdapter(Manifest)


def parse_manifest(document: bytes | str | dict[str, Any]) -> Manifest:
    """A manifest from its stored JSON (or that JSON already loaded)."""
    if isinstance(document, dict):
        return MANIFEST.validate_python(document)
    return MANIFEST.validate_json(document)


def _none_if_empty(value: object) -> object:
    return None if value == {} else value


# the catalog's column is ``{}`` until the backup completes (migration 0011's default)
CatalogManifest = Annotated[Manifest | None, BeforeValidator(_none_if_empty)]


def manifest_document(manifest: Manifest) -> dict[str, Any]:
    """The manifest as the JSON-ready document stored in the backup store and the catalog."""
    return manifest.model_dump(mode="json")


def manifest_json(manifest: Manifest) -> bytes:
    return json.dumps(manifest_document(manifest), indent=2).encode()


class CatalogEntry(BaseModel):
    """One row of the backup catalog; ``manifest`` is None until the backup completes."""

    id: str
    kind: Kind
    app: str | None
    parent: str | None
    status: Literal["running", "complete", "failed", "expired"]
    started_at: Timestamp
    finished_at: Timestamp | None
    start_lsn: Lsn | None
    stop_lsn: Lsn | None
    timeline: int | None
    size_bytes: int
    key_id: str | None
    manifest: CatalogManifest
    error: str | None
    verify_status: Literal["verified", "failed"] | None
    verified_at: Timestamp | None
    verify_error: str | None
    verify_seconds: float | None = None  # the last restore test: all of it
    restore_seconds: float | None = None  # ...until the restored copy served (the RTO's base)
    replay_bytes_per_second: float | None = None  # WAL replay the test saw (physical)
    verify_count: int = 0

    def complete(self) -> bool:
        return self.status == "complete"


class KindLatest(BaseModel):
    """The newest complete backup of a kind, and when a restore last verified one."""

    kind: Kind
    finished_at: Timestamp | None
    size_bytes: int
    manifest: CatalogManifest
    verified_at: Timestamp | None


class RestorePoint(BaseModel):
    """A named WAL position to restore to, kept in the backup store."""

    name: str
    lsn: Lsn
    time: Timestamp
