"""RPO and RTO, live (issue 21): the RPO is the platform's age until a tested backup exists,
stays small while WAL archiving works and grows while it is stopped; the RTO is the newest
tested backup's measured restore plus replaying the WAL since it, so it moves to a bigger
backup's restore time once that one is tested (how much longer that restore takes is
measured, not asserted: docs/benchmarks.md has the figures)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.dba import dba
from tests.waiting import wait_until

from comind.backup.base import physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.objectives import DEFAULT_REPLAY, Objectives, segment_end
from comind.backup.verify import Verifier
from comind.observe.metrics import REGISTRY
from comind.platform import Platform
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import connect


def exported(metric: str, database: str) -> float | None:
    return REGISTRY.get_sample_value(metric, {"database": database})


def assert_rto_from(
    objectives: Objectives, catalog: BackupCatalog, cluster: Cluster, backup_id: str
) -> float:
    """The RTO is ``backup_id``'s measured restore plus replaying the WAL written since it
    (bounded by the positions before and after the measurement); returns it."""
    tested = catalog.get(backup_id)
    assert tested is not None and tested.restore_seconds and tested.stop_lsn is not None
    rate = tested.replay_bytes_per_second or catalog.replay_rate() or DEFAULT_REPLAY
    before = cluster.position().lsn.value
    rto = objectives.sample()[1]
    after = cluster.position().lsn.value
    since = [max(0, lsn - tested.stop_lsn.value) / rate for lsn in (before, after)]
    assert tested.restore_seconds + since[0] <= rto <= tested.restore_seconds + since[1]
    return rto


def switch_wal(cluster: Cluster) -> None:
    with connect(cluster.target) as conn:
        conn.execute("SELECT pg_switch_wal()")


def test_rpo_and_rto_follow_archiving_and_the_tested_backups(
    backup_runtime: Platform, verifier: Verifier, cluster: Cluster, store: FileObjectStore,
    catalog: BackupCatalog, keys: KeyRing, shopdb: str,
) -> None:  # fmt: skip
    # as the platform measures (its own thread does the same for its app databases)
    objectives = Objectives(cluster, catalog, backup_runtime.wal, lambda: [shopdb])
    rpo, rto = objectives.sample()  # nothing tested yet: everything since the start is at risk
    age = (datetime.now(UTC) - catalog.platform_born()).total_seconds()
    assert 0 < rpo <= age + 1 and rto == 0.0

    small = physical_backup(cluster, store, catalog, keys)
    assert verifier.run(small).ok
    switch_wal(cluster)  # archived and shipped within seconds, up to the switch
    assert wait_until(lambda: objectives.sample()[0] < 30, 30), objectives.sample()
    rpo, _ = objectives.sample()
    assert exported("comind_backup_rpo_seconds", shopdb) == rpo  # per database
    assert_rto_from(objectives, catalog, cluster, small.id)

    spool = backup_runtime.engines.postgres.wal_spool
    aside = spool.with_name("wal-spool.stopped")
    spool.rename(aside)  # PostgreSQL's archive_command now fails: WAL stays unarchived
    try:
        with dba(cluster.target.with_db(shopdb)) as conn:
            conn.execute("INSERT INTO customers SELECT i, 'late' FROM generate_series(501, 600) i")
        switch_wal(cluster)
        at_risk = objectives.sample()[0]
        assert wait_until(lambda: objectives.sample()[0] >= at_risk + 3, 30)  # and grows
    finally:
        aside.rename(spool)

    with dba(cluster.target.with_db(shopdb)) as conn:  # ~60 MB more to back up and restore
        conn.execute("CREATE TABLE ledger AS SELECT i, md5(i::text) || md5((i + 1)::text) AS h "
                     "FROM generate_series(1, 600000) i")  # fmt: skip
    big = physical_backup(cluster, store, catalog, keys)
    assert big.source_bytes > 2 * small.source_bytes and verifier.run(big).ok
    rto = assert_rto_from(objectives, catalog, cluster, big.id)  # the newest tested one now
    assert exported("comind_backup_rto_seconds", shopdb) == rto


def test_a_wal_segment_ends_where_the_next_begins() -> None:
    assert str(segment_end("000000010000000000000003")) == "0/4000000"
    assert str(segment_end("0000000200000001000000FF")) == "2/0"
