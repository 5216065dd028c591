"""One outbox relay per app database of the applied revision.

Every app database gets the ``comind_outbox`` table when it is provisioned; a relay thread
per database moves committed outbox rows into that app's queues (see
:mod:`comind.queue.outbox`). Relays follow the applied revision: a new app database gets
one, a removed one stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from comind.gitops.providers.database import DatabaseProvider
from comind.gitops.resources import Resource
from comind.queue.outbox import OutboxRelay
from comind.queue.postgres import PostgresQueues


class Relays:
    def __init__(self, databases: DatabaseProvider, queues: PostgresQueues) -> None:
        self.databases, self.queues = databases, queues
        self._running: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._lock = threading.Lock()

    def follow(self, resources: Iterable[Resource]) -> None:
        """Run a relay for each database in ``resources``; stop the others."""
        wanted = {r.app: r for r in resources if r.kind == "database"}
        with self._lock:
            self._stop(*(set(self._running) - set(wanted)))
            for app, res in wanted.items():
                if app not in self._running:
                    self._start(app, res)

    def _start(self, app: str, res: Resource) -> None:
        relay = OutboxRelay(app, self.databases.target(res), self.queues)
        stop = threading.Event()
        thread = threading.Thread(target=relay.run, args=(stop,), name=f"outbox-{app}",
                                  daemon=True)  # fmt: skip
        thread.start()
        self._running[app] = (thread, stop)

    def _stop(self, *apps: str) -> None:
        """Signal every relay first, then wait: each notices only at its next idle wake-up,
        so waiting for them one by one would add those waits up."""
        stopping = [self._running.pop(app) for app in apps]
        for _, stop in stopping:
            stop.set()
        for thread, _ in stopping:
            thread.join(timeout=10)

    def stop_all(self) -> None:
        with self._lock:
            self._stop(*self._running)

    def apps(self) -> list[str]:
        return sorted(self._running)
