"""The artifact registry: named, versioned build outputs stored once per content.

A version's bytes go to the object store content-addressed (bucket ``comind-artifacts``, key
``blobs/sha256/<hex>``): pushing the same bytes again, under any name or version, stores
nothing new. Metadata (name, version, digest, size, the commit and build it came from, an
OCI image reference by digest for cluster mode) is in ``comind.artifacts``; a version never
changes once pushed. Retention keeps the newest ``keep`` versions of each name and anything
built from a revision an environment runs now; a blob goes when no version names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from comind.cicd.unpack import unpack
from comind.errors import ComindError, UsageError
from comind.observe.metrics import REGISTRY
from comind.stores.object_store import ObjectStore
from comind.stores.postgres import Pool, class_rows
from comind.stores.queries import named

_sql = named("comind.cicd", "artifacts")
BUCKET = "comind-artifacts"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}\Z")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}\Z")
OCI = re.compile(r"^[a-z0-9][a-z0-9._/:-]{0,250}@sha256:[0-9a-f]{64}\Z")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")

PUSHES = Counter("comind_artifact_pushes_total", "Artifact versions pushed, by outcome: stored "
                 "(new bytes), deduplicated (bytes already held), existing (the same version "
                 "again), refused.", ["outcome"], registry=REGISTRY)  # fmt: skip
PRUNED = Counter("comind_artifacts_pruned_total", "Artifact versions the retention removed.",
                 registry=REGISTRY)  # fmt: skip


class ArtifactConflict(ComindError):
    """The version exists with other bytes: versions never change."""


@dataclass(frozen=True)
class ArtifactVersion:
    name: str
    version: str
    digest: str  # sha256:<hex> of the bytes
    size: int
    commit: str | None
    build: str | None
    oci_ref: str | None
    created_at: datetime
    deployed: bool | None = None  # listed: built from a revision an environment runs

    def doc(self) -> dict[str, Any]:
        """As JSON: the time in ISO 8601."""
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class Pushed:
    name: str
    version: str
    digest: str
    size: int
    stored: bool  # False: the bytes were held already (or it is the same version again)


def blob_key(digest: str) -> str:
    return f"blobs/sha256/{digest.removeprefix('sha256:')}"


_rows = class_rows(ArtifactVersion)


class ArtifactRegistry:
    def __init__(self, pool: Pool, store: ObjectStore, *, keep: int = 10) -> None:
        self.pool, self.store, self.keep = pool, store, keep
        store.create_bucket(BUCKET)

    def push(self, name: str, version: str, digest: str, size: int, blocks: Iterable[bytes],
             *, commit: str | None = None, build: str | None = None,
             oci_ref: str | None = None) -> Pushed:  # fmt: skip
        """Record ``name@version`` with content ``blocks`` of ``digest`` and ``size`` (the
        caller hashed them); the bytes are written only when no version holds them yet."""
        check(name, version, oci_ref)
        existing = self.get(name, version)
        if existing is not None:
            if existing.digest != digest:
                PUSHES.labels("refused").inc()
                raise ArtifactConflict(f"{name}@{version} exists with other content "
                                       f"({existing.digest}): push a new version")  # fmt: skip
            PUSHES.labels("existing").inc()
            return Pushed(name, version, digest, size, stored=False)
        held = self.store.head(BUCKET, blob_key(digest)) is not None
        if not held:
            self.store.put_stream(BUCKET, blob_key(digest), blocks)
        with self.pool.connection() as conn:
            conn.execute(_sql("add"), {"name": name, "version": version, "digest": digest,
                                       "size": size, "commit": commit, "build": build,
                                       "oci_ref": oci_ref})  # fmt: skip
        PUSHES.labels("deduplicated" if held else "stored").inc()
        return Pushed(name, version, digest, size, stored=not held)

    def get(self, name: str, version: str) -> ArtifactVersion | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=_rows) as cur:
            return cur.execute(_sql("get"), {"name": name, "version": version}).fetchone()

    def list(self, name: str | None, limit: int) -> list[ArtifactVersion]:
        """Versions by name, newest first, each saying whether an environment runs its
        commit."""
        with self.pool.connection() as conn, conn.cursor(row_factory=_rows) as cur:
            return list(cur.execute(_sql("list"), {"name": name, "limit": limit}))

    def open(self, name: str, version: str) -> tuple[ArtifactVersion, Iterator[bytes]]:
        """The version's record and its bytes, block by block."""
        found = self.get(name, version)
        if found is None:
            raise UsageError(f"no artifact {name}@{version}")
        return found, self.store.open(BUCKET, blob_key(found.digest)).blocks()

    def unpack(self, ref: str, root: Path) -> tuple[Path, str]:
        """The artifact ``NAME@VERSION`` unpacked under ``root`` (once per content: a
        folder named by its digest) and its digest; one line when there is no such one."""
        name, _, version = ref.partition("@")
        found = self.get(name, version)
        if found is None:
            raise ComindError(f"no artifact {ref} in the registry (comind artifact push)")
        digest = found.digest
        blocks = self.store.open(BUCKET, blob_key(digest)).blocks()
        return unpack(blocks, root / digest.removeprefix("sha256:"), ref), digest

    def prune(self) -> int:
        """Retention: versions beyond the newest ``keep`` of their name that no environment
        runs go, and the blobs no version names any more. Returns how many versions went."""
        with self.pool.connection() as conn:
            expired = conn.execute(_sql("expired"), {"keep": self.keep}).fetchall()
            for name, version, _ in expired:
                conn.execute(_sql("delete"), {"name": name, "version": version})
            known = _sql("digest_known")
            orphans = {d for _, _, d in expired
                       if conn.execute(known, {"digest": d}).fetchone() is None}  # fmt: skip
        for digest in orphans:
            self.store.delete(BUCKET, blob_key(digest))
        PRUNED.inc(len(expired))
        return len(expired)


def check(name: str, version: str, oci_ref: str | None = None) -> None:
    """Refuse, in one line, a name, version or OCI reference the registry does not take."""
    if not NAME.fullmatch(name):
        raise UsageError(f"artifact name {name!r}: use 1-100 of a-z 0-9 . _ -, starting with "
                         "a letter or digit")  # fmt: skip
    if not VERSION.fullmatch(version):
        raise UsageError(f"artifact version {version!r}: use 1-100 of A-Z a-z 0-9 . _ + -")
    if oci_ref is not None and not OCI.fullmatch(oci_ref):
        raise UsageError(f"OCI reference {oci_ref!r}: give it by digest, "
                         "REPOSITORY@sha256:<64 hex>")  # fmt: skip
