"""The leading platform's periodic work, each task on its own: one that fails (the database
restarting, a database gone back to an earlier point) never holds up another — above all
the WAL shipping, which bounds what a restore can lose."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from comind.platform.governance import governance_tasks
from comind.platform.housekeeping import Periodic
from comind.platform.lineage import prune_records
from comind.queue.layer import MessageLayer
from comind.stores.pg_standins import sweep as sweep_stand_ins
from comind.stores.platform_db import end_worker_locks
from comind.stores.postgres import superuser

if TYPE_CHECKING:
    from comind.platform import Platform

SWEEP_SECONDS = 60.0
MOVE_SECONDS = 0.2
SHIP_SECONDS = 1.0


def upkeep(rt: Platform, messages: MessageLayer) -> list[Periodic]:
    spool = rt.engines.postgres.wal_spool
    shared = rt.replicas and Periodic("shared secrets", SWEEP_SECONDS, rt.replicas.publish)
    return [
        Periodic("WAL shipping", SHIP_SECONDS, lambda: rt.wal.ship(spool)),
        Periodic("events", 0.0, rt.events.flush),
        Periodic("redrive", 0.0, messages.moves.step),
        Periodic("sampling", rt.settings.sample_interval, lambda: sample(rt)),
        Periodic("log shipping", SHIP_SECONDS, lambda: rt.shipper and rt.shipper.step()),
        Periodic("retention", SWEEP_SECONDS, lambda: retention(rt, messages)),
        Periodic("strays", SWEEP_SECONDS, lambda: rt.apps and rt.apps.reap()),
        Periodic("flow locks", SHIP_SECONDS, lambda: end_worker_locks(messages.pool)),
        *([shared] if shared else []),
        *governance_tasks(rt, messages, SWEEP_SECONDS),
    ]


def retention(rt: Platform, messages: MessageLayer) -> None:
    """Queues, stand-ins, time series, logs, spans, lineage events; sealing key renewal."""
    messages.queues.sweep()
    sweep_stand_ins(superuser(rt.engines.postgres))  # those a job could not drop
    now = datetime.now(UTC)
    if rt.series is not None:
        rt.series.compact(now)
    if rt.logs is not None:
        rt.logs.prepare(now.date())
        rt.logs.expire(now.date(), keep_days=rt.settings.log_retention_days)
    if rt.sealing is not None:
        rt.sealing.current()  # renews the sealing key when it is due
    prune_records(messages.pool, now)  # spans, lineage events


def sample(rt: Platform) -> None:
    """One scrape of the platform's own registry into the built-in time series, then one
    round of alert evaluation over it."""
    if rt.series is not None and rt.scrapes is not None and rt.alerting is not None:
        now = datetime.now(UTC)
        rt.series.write(rt.scrapes.scrape(), now)  # one collection for both
        rt.alerting.evaluate(now)
