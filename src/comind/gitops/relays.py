"""One outbox relay, and one query-cache invalidation watcher, per app database of the
applied revision.

Every app database gets the ``comind_outbox`` table when it is provisioned; a relay thread
per database moves committed outbox rows into that app's queues and the topics its spec
says it publishes to (see
:mod:`comind.queue.outbox`), and a watcher bumps the versions of the tables the app's query
cache reads when they are written (:mod:`comind.gitops.table_watch`). They follow the
applied revision: a new app database gets them, a removed one stops them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from comind.gitops.providers.database import DatabaseProvider
from comind.gitops.resources import Resource
from comind.gitops.table_watch import TableWatcher
from comind.queue.outbox import OutboxRelay
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.redis import RedisClient
from comind.stores.waking import Stop


class Relays:
    def __init__(self, databases: DatabaseProvider, topics: PostgresTopics,
                 cache: RedisClient | None = None) -> None:  # fmt: skip
        self.databases, self.topics, self.cache = databases, topics, cache
        self.queues: PostgresQueues = topics.queues
        self._running: dict[str, tuple[list[threading.Thread], Stop]] = {}
        self._publishes: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def follow(self, resources: Iterable[Resource]) -> None:
        """Run a relay for each database in ``resources``; stop the others."""
        resources = list(resources)
        wanted = {r.app: r for r in resources if r.kind == "database"}
        self._publishes = {r.app: frozenset(r.spec.get("publishes", ())) for r in resources
                           if r.kind == "app"}  # fmt: skip
        with self._lock:
            self._stop(*(set(self._running) - set(wanted)))
            for app, res in wanted.items():
                if app not in self._running:
                    self._start(app, res)

    def _start(self, app: str, res: Resource) -> None:
        source = self.databases.target(res)
        relay = OutboxRelay(app, source, self.queues, self.topics,
                            lambda: self._publishes.get(app, frozenset()))  # fmt: skip
        work = [relay.run]
        if self.cache is not None:
            work.append(TableWatcher(app, source, self.cache).run)
        stop = Stop()  # wakes their LISTEN waits: a stop is not a second late
        threads = [threading.Thread(target=run, args=(stop,), name=f"relay-{app}", daemon=True)
                   for run in work]  # fmt: skip
        for thread in threads:
            thread.start()
        self._running[app] = (threads, stop)

    def _stop(self, *apps: str) -> None:
        """Signal every relay first, then wait: a relay busy with a batch notices the stop
        only after it, so waiting for them one by one would add those batches up."""
        stopping = [self._running.pop(app) for app in apps]
        for _, stop in stopping:
            stop.set()
        for threads, _ in stopping:
            for thread in threads:
                thread.join(timeout=10)

    def stop_all(self) -> None:
        with self._lock:
            self._stop(*self._running)

    def apps(self) -> list[str]:
        return sorted(self._running)
