"""Evictions of the apps' cached values: Redis announces each key it evicts to stay under
its ``maxmemory`` (``notify-keyspace-events Ee``, set by the embedded engine), and the
platform adds it to the app's own count hash (``<app>:__comind:cache`` ``evictions``), beside
what the SDK counts itself, so a scrape and the dashboard read one place. A key outside every
app's prefix (the platform's own) is not counted. Announcements are fire-and-forget: while
the platform is down, evictions go uncounted."""

from __future__ import annotations

import logging
import threading
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
            while not stop.is_set():
                message = sub.get_message(timeout=WAIT)
                if message is not None:
                    self._count(conn, str(message["data"]))

    def _count(self, conn: RedisClient, key: str) -> None:
        for app in self.apps():
            if key.startswith(f"{app}:"):
                conn.hincrby(stats_key(f"{app}:"), "evictions", 1)
                return

    def start(self) -> threading.Event:
        """Run on a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="cache-evictions", daemon=True).start()
        return stop
