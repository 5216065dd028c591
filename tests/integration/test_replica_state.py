"""Control-plane replicas in the platform database (issue 19): the leader's lock is one
session's, gone with it; the shared secrets reach another replica's directory whole, never
an engine's address or password, and only under the same replica key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.waiting import wait_until

from comind.errors import ComindError
from comind.platform import Platform
from comind.platform.replicas import Replicas
from comind.stores.postgres import PgTarget, connect

KEY = "the-replicas-key-0123456789abcdefghij"


@pytest.fixture
def db(runtime: Platform) -> Iterator[PgTarget]:
    assert runtime.db is not None
    yield runtime.db
    with connect(runtime.db) as conn:
        conn.execute("DELETE FROM comind.replica_secrets")
        conn.execute("DELETE FROM comind.replica_leader")


def _replica(db: PgTarget, directory: Path, name: str, key: str = KEY) -> Replicas:
    directory.mkdir(mode=0o700, exist_ok=True)
    return Replicas(db, key, directory, name, f"http://{name}:8470")


def test_one_replica_leads_until_its_session_ends(db: PgTarget, tmp_path: Path) -> None:
    first, second = _replica(db, tmp_path / "a", "a"), _replica(db, tmp_path / "b", "b")
    try:
        assert first.try_lead() and not second.try_lead()
        leader = second.leader()
        assert leader is not None and (leader.replica, leader.api_url) == ("a", "http://a:8470")
        first.close()  # as a killed leader's session ends: the server lets go a moment later
        assert wait_until(second.try_lead, timeout=10)
        assert second.leader().replica == "b"  # type: ignore[union-attr]
    finally:
        first.close()
        second.close()


def test_the_shared_secrets_reach_another_replica_whole_and_only_them(
    db: PgTarget, tmp_path: Path
) -> None:
    leader, follower = _replica(db, tmp_path / "a", "a"), _replica(db, tmp_path / "b", "b")
    (leader.dir / "platform-key").write_bytes(b"\x00key")
    (leader.dir / "sealing").mkdir()
    (leader.dir / "sealing" / "2026.key").write_text("sealing")
    (leader.dir / "postgres-url").write_text("postgresql://admin:pw@db/postgres")
    (leader.dir / "postgres-password").write_text("embedded")
    assert not follower.install()  # nothing published yet
    leader.publish()
    assert follower.install()
    got = sorted(p.relative_to(follower.dir).as_posix() for p in follower.dir.rglob("*"))
    assert got == ["platform-key", "sealing", "sealing/2026.key"]
    assert (follower.dir / "platform-key").read_bytes() == b"\x00key"
    assert oct((follower.dir / "sealing" / "2026.key").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ComindError, match="sealed under another COMIND_REPLICA_KEY"):
        _replica(db, tmp_path / "c", "c", key="another-key-0123456789abcdefghijklmn").install()
    with connect(db) as conn:  # sealed: nothing of the files readable in the database
        sealed = conn.execute("SELECT sealed FROM comind.replica_secrets").fetchone()
    assert sealed is not None and b"sealing" not in bytes(sealed[0])
