"""Invalidation for the SDK's query cache: per app database, the platform listens for the
notifications the tables' triggers send after each committed write (``comind_qc``, installed
by ``comind.sdk.QueryCache.watch``) and bumps the table's version in the app's Redis keys
(``<app>:__comind:qc:v:<table>``). A cached query's key holds the versions of the tables it
read, so the next read after a write computes again. A notification arrives after its
commit, so a read in the few milliseconds between may still see the old result. Writes made
while no watcher listened (a start, a reconnect) are not announced: each time it starts to
listen it bumps the app's epoch (``<app>:__comind:qc:epoch``), part of every cached query's
key, so everything cached before is recomputed."""

from __future__ import annotations

import logging
import threading

from prometheus_client import Counter

from comind.observe.metrics import REGISTRY
from comind.sdk.keys import epoch_key, version_key
from comind.stores.postgres import DatabaseError, PgTarget, connect
from comind.stores.redis import RedisClient
from comind.stores.waking import notifications

log = logging.getLogger("comind.gitops.table_watch")
CHANNEL = "comind_qc"
WAIT = 1.0
INVALIDATIONS = Counter("comind_app_query_cache_invalidations_total", "Writes to a table an "
                        "app's query cache reads, which made its cached results stale.",
                        ["app"], registry=REGISTRY)  # fmt: skip


class TableWatcher:
    def __init__(self, app: str, source: PgTarget, cache: RedisClient) -> None:
        self.app, self.source, self.cache = app, source, cache

    def run(self, stop: threading.Event) -> None:
        """Bump versions until ``stop`` is set (a database that goes away: again later)."""
        while not stop.is_set():
            try:
                with connect(self.source) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    self.cache.incr(epoch_key(f"{self.app}:"))  # what happened unheard is stale
                    while not stop.is_set():
                        for note in notifications(listener, timeout=WAIT, stop=stop):
                            self.bump(note.payload)
            except DatabaseError as exc:
                log.warning("query cache invalidation for app %s: %s", self.app, exc)
                stop.wait(WAIT)

    def bump(self, table: str) -> None:
        self.cache.incr(version_key(f"{self.app}:", table))
        INVALIDATIONS.labels(self.app).inc()
