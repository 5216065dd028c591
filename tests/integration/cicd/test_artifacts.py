"""The artifact registry over real PostgreSQL and the file object store: the same bytes are
stored once whatever the name or version; a version never changes; retention keeps the
newest versions of each name and anything built from a revision an environment runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from comind.cicd.artifacts import BUCKET, ArtifactConflict, ArtifactRegistry
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget, connect, make_pool


def digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def push(registry: ArtifactRegistry, name: str, version: str, data: bytes,
         commit: str | None = None) -> bool:  # fmt: skip
    return registry.push(name, version, digest(data), len(data), [data], commit=commit).stored


@pytest.fixture
def registry(pg: PgTarget, tmp_path: Path) -> ArtifactRegistry:
    return ArtifactRegistry(make_pool(pg, max_size=2), FileObjectStore(tmp_path / "objects"),
                            keep=2)  # fmt: skip


def blobs(registry: ArtifactRegistry) -> int:
    return sum(1 for _ in registry.store.list(BUCKET))


def test_the_same_bytes_are_stored_once_and_a_version_never_changes(
    registry: ArtifactRegistry,
) -> None:
    assert push(registry, "orders", "1.0", b"wheel bytes") is True
    assert push(registry, "orders", "1.0", b"wheel bytes") is False  # the same version again
    assert push(registry, "orders-copy", "7", b"wheel bytes") is False  # same bytes elsewhere
    assert blobs(registry) == 1
    with pytest.raises(ArtifactConflict, match="exists with other content"):
        push(registry, "orders", "1.0", b"other bytes")
    record, blocks = registry.open("orders", "1.0")
    assert b"".join(blocks) == b"wheel bytes" and record.digest == digest(b"wheel bytes")


def test_retention_keeps_the_newest_and_what_an_environment_runs(
    registry: ArtifactRegistry, pg: PgTarget
) -> None:
    running = "e" * 40
    push(registry, "api", "1", b"one", commit=running)  # the oldest, but deployed
    for n in (2, 3, 4):
        push(registry, "api", str(n), f"v{n}".encode())
    with connect(pg) as conn:  # stage runs the commit version 1 was built from
        (sync_id,) = conn.execute("INSERT INTO comind.syncs (env, revision, trigger, outcome) "
                                  "VALUES ('stage', %s, 'test', 'Succeeded') RETURNING id",
                                  (running,)).fetchone()  # fmt: skip
        conn.execute("INSERT INTO comind.deployments (sync_id, env, revision) "
                     "VALUES (%s, 'stage', %s)", (sync_id, running))  # fmt: skip
    assert registry.prune() == 1  # version 2: neither among the newest 2 nor deployed
    listed = {a.version: a.deployed for a in registry.list("api", 10)}
    assert listed == {"4": False, "3": False, "1": True}
    assert blobs(registry) == 3  # version 2's blob went with it
