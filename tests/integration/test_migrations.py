"""The platform schema: numbered migrations, step by step equal to fresh, edits refused."""

from __future__ import annotations

import pytest

from comind.embedded.platform import EmbeddedPlatform
from comind.errors import ComindError
from comind.monitoring.events import recent_events, record_event
from comind.stores.migrations import available, migrate
from comind.stores.postgres import PgTarget, connect, ensure_database, superuser

SCHEMA_QUERY = """
SELECT table_name, column_name, data_type, is_nullable, column_default
FROM information_schema.columns WHERE table_schema = 'comind'
  AND table_name <> 'schema_migrations'
UNION ALL
SELECT tablename, indexname, indexdef, '', '' FROM pg_indexes WHERE schemaname = 'comind'
ORDER BY 1, 2
"""


def _schema(target: PgTarget) -> list[tuple[object, ...]]:
    with connect(target) as conn:
        return conn.execute(SCHEMA_QUERY).fetchall()


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in available()]
    assert versions == list(range(1, len(versions) + 1))


def test_platform_database_is_at_the_latest_version(db: PgTarget) -> None:
    with connect(db) as conn:
        rows = conn.execute("SELECT version FROM comind.schema_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == [m.version for m in available()]


def test_step_by_step_equals_fresh(platform: EmbeddedPlatform) -> None:
    admin = superuser(platform.postgres)
    for name in ("mig_steps", "mig_fresh"):
        ensure_database(admin, name)
    steps, fresh = admin.with_db("mig_steps"), admin.with_db("mig_fresh")
    for version in range(1, len(available()) + 1):
        assert migrate(steps, upto=version) == version
    assert migrate(fresh) == len(available())
    assert _schema(steps) == _schema(fresh)
    assert migrate(steps) == len(available())  # idempotent


def test_a_changed_migration_is_refused(pg: PgTarget) -> None:
    with connect(pg) as conn:
        conn.execute("UPDATE comind.schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(ComindError, match="changed after it was applied"):
        migrate(pg)


def test_events_round_trip(pg: PgTarget) -> None:
    record_event(pg, source="postgres", kind="restarted", message="postgres restarted")
    events = recent_events(pg, limit=5)
    assert events[0]["source"] == "postgres"
    assert events[0]["message"] == "postgres restarted"
