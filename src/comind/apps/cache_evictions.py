"""Evictions of the apps' cached values: Redis announces each key it evicts to stay under
its ``maxmemory`` (``notify-keyspace-events Ee``, set by the embedded engine), and the
platform adds it to the app's own count hash (``<app>:__comind:cache`` ``evictions``), beside
what the SDK counts itself, so a scrape and the dashboard read one place. A key outside every
app's prefix (the platform's own) is not counted. Announcements are fire-and-forget: while
the platform is down, evictions go uncounted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from comind.sdk.keys import stats_key
from comind.stores.redis import RedisClient, RedisTarget, client

log = logging.getLogger(__name__)
EVICTED = "__keyevent@*__:evicted"
WAIT = 1.0


class EvictionWatcher:
    def __init__(self, target: RedisTarget, apps: Callable[[], list[str]]) -> None:
        self.target, self.apps = target, apps

    def run(self, stop: threading.Event) -> None:
        """Count evictions until ``stop`` is set (Redis restarting: again a second later)."""
        while not stop.is_set():
            try:
                self._listen(stop)
            except Exception as exc:  # Redis restarting, a backup's restore, ...
                log.debug("eviction watch: %s", exc)
                stop.wait(WAIT)

    def _listen(self, stop: threading.Event) -> None:
        with client(self.target) as conn, conn.pubsub(ignore_subscribe_messages=True) as sub:
            sub.psubscribe(EVICTED)
            prefixes, looked = [f"{app}:" for app in self.apps()], time.monotonic()
            while not stop.is_set():
                message = sub.get_message(timeout=WAIT)
                if time.monotonic() - looked > WAIT:  # the apps change with a sync, rarely
                    prefixes, looked = [f"{app}:" for app in self.apps()], time.monotonic()
                if message is not None:
                    self._count(conn, prefixes, str(message["data"]))

    @staticmethod
    def _count(conn: RedisClient, prefixes: list[str], key: str) -> None:
        owner = next((p for p in prefixes if key.startswith(p)), None)
        if owner is not None:
            conn.hincrby(stats_key(owner), "evictions", 1)

    def start(self) -> threading.Event:
        """Run on a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="cache-evictions", daemon=True).start()
        return stop
