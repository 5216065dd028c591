"""The embedded engines are real servers, locked down and reachable at their recorded addresses."""

from __future__ import annotations

import psycopg
import pytest
import redis
from tests.dba import dba

from comind.embedded.platform import EmbeddedPlatform
from comind.stores.objects import FileObjectStore, ObjectStoreError
from comind.stores.postgres import PgTarget, connect, ping, superuser
from comind.stores.redis import RedisTarget, default_user


def test_status_reports_every_engine_healthy_with_address(platform: EmbeddedPlatform) -> None:
    st = platform.status()
    assert set(st.engines) == {"postgres", "redis", "objects"}
    for name in ("postgres", "redis"):
        engine = st.engines[name]
        assert engine.state == "healthy"
        assert engine.address.startswith("127.0.0.1:")
        assert isinstance(engine.pid, int)
        assert engine.version
    assert st.engines["objects"].address.startswith("file://")


def test_postgres_needs_the_generated_password(platform: EmbeddedPlatform) -> None:
    good = superuser(platform.postgres)
    assert ping(good)
    bad = PgTarget(good.host, good.port, good.user, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(bad)


def test_postgres_uses_scram_and_checksums(pg: PgTarget) -> None:
    with connect(pg) as conn:
        enc = conn.execute("SHOW password_encryption").fetchone()
        checksums = conn.execute("SHOW data_checksums").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert enc == ("scram-sha-256",)
    assert checksums == ("on",)
    assert listen == ("127.0.0.1",)


def test_each_test_database_is_isolated(pg: PgTarget, db: PgTarget) -> None:
    with dba(pg) as conn:
        conn.execute("CREATE TABLE only_here (id int)")
    with connect(db) as conn:
        found = conn.execute("SELECT to_regclass('public.only_here')").fetchone()
    assert found == (None,)


def test_redis_requires_password_and_keeps_an_aof(
    platform: EmbeddedPlatform, rkeys: tuple[redis.Redis, str]
) -> None:
    target = default_user(platform.redis)
    anonymous = redis.Redis(host=target.host, port=target.port, socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    conn, prefix = rkeys
    conn.set(f"{prefix}k", "v")
    assert conn.get(f"{prefix}k") == "v"
    assert conn.config_get("appendonly") == {"appendonly": "yes"}
    assert conn.config_get("bind")["bind"] == "127.0.0.1"


def test_redis_target_repr_hides_password(platform: EmbeddedPlatform) -> None:
    target: RedisTarget = default_user(platform.redis)
    assert target.password not in repr(target)
    assert platform.postgres.password not in repr(superuser(platform.postgres))


def test_object_store_round_trip(platform: EmbeddedPlatform) -> None:
    store = FileObjectStore(platform.home.objects)
    store.create_bucket("it-bucket")
    info = store.put("it-bucket", "a/b/c.txt", b"hello")
    assert info.etag == "5d41402abc4b2a76b9719d911017c592"  # md5("hello"), as S3 reports it
    assert store.get("it-bucket", "a/b/c.txt") == b"hello"
    assert [o.key for o in store.list("it-bucket", prefix="a/")] == ["a/b/c.txt"]
    store.delete("it-bucket", "a/b/c.txt")
    assert store.head("it-bucket", "a/b/c.txt") is None
    assert not (platform.home.objects / "it-bucket" / "a").exists()
    with pytest.raises(ObjectStoreError, match="bad object key"):
        store.put("it-bucket", "../escape", b"x")


def test_postgres_never_reads_the_data_directorys_own_hba(platform: EmbeddedPlatform) -> None:
    """A data directory restored from another server's backup keeps that server's
    pg_hba.conf; one that trusts every login must not let a wrong password in (red team
    19a H2)."""
    good = superuser(platform.postgres)
    own = platform.home.pg_data / "pg_hba.conf"
    kept = own.read_bytes()
    own.write_text("host all all all trust\nhost replication all all trust\n")
    try:
        with connect(good) as conn:
            conn.execute("SELECT pg_reload_conf()")
            assert str(conn.execute("SHOW hba_file").fetchone()[0]).endswith(  # type: ignore[index]
                "pg_hba_plain.conf"
            )
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(PgTarget(good.host, good.port, good.user, "wrong-password"))
    finally:
        own.write_bytes(kept)
