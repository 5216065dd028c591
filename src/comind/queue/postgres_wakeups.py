"""Wake-ups for long polls of the ``postgres`` backend: one LISTEN connection per process,
not one pooled connection per waiting receive.

A long poll registers a :class:`Watch` on its queue's id and sleeps on it, holding no pooled
connection (and, for async callers, no thread). One listener thread owns a dedicated
connection outside every pool, LISTENs on the channel every send notifies in its own
statement (payload: the queue id), and fires the watches of that queue. So any number of
long polls cost one connection, and a burst of them can never take the connections other
requests need.

Wake-ups only shorten the wait: waiters re-check at least every ``RECHECK_SECONDS`` anyway
(delayed messages and expiring leases notify nobody), so while the listener's connection is
lost and being re-opened, long polls still answer, only a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from comind.stores.postgres import Pool
from comind.stores.waking import Stop, notifications

log = logging.getLogger("comind.queue.wakeups")

NOTIFY_CHANNEL = "comind_queue"
RECONNECT_SECONDS = 1.0
IDLE_SECONDS = 30.0  # the listener closes its connection after this long without watchers
LISTENING_WAIT = 2.0  # a first watcher waits this long for the listener to be in place


class Watch:
    """Interest in one queue's sends; fired from the listener thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._sync = threading.Event()
        self._async = asyncio.Event()

    def fire(self) -> None:
        if self._loop is None:
            self._sync.set()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while we were waiting
            self._loop.call_soon_threadsafe(self._async.set)

    def wait(self, timeout: float) -> bool:
        """Block until fired or ``timeout`` seconds pass; True when fired."""
        fired = self._sync.wait(timeout)
        self._sync.clear()
        return fired

    async def wait_async(self, timeout: float) -> bool:
        """Await until fired or ``timeout`` seconds pass, holding no thread."""
        try:
            await asyncio.wait_for(self._async.wait(), timeout)
        except TimeoutError:
            return False
        self._async.clear()
        return True


class Wakeups:
    """The process's one listener; ``watch(queue_id)`` while waiting for a send."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]]) -> None:
        self._connect = connect
        self._watches: dict[int, set[Watch]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()
        self._stop = Stop()  # close() wakes the listener at once, not at its next timeout

    @classmethod
    def beside(cls, pool: Pool) -> Wakeups:
        """Wake-ups listening on a connection like ``pool``'s, of its own (not from the pool)."""

        def connect() -> psycopg.Connection[Any]:
            conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
            kwargs = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
            return psycopg.connect(conninfo, **(kwargs or {}))

        return cls(connect)

    @contextlib.contextmanager
    def watch(
        self, queue_id: int, loop: asyncio.AbstractEventLoop | None = None
    ) -> Iterator[Watch]:
        """A watch on ``queue_id``'s sends for the block (async waiters pass their loop)."""
        watch = Watch(loop)
        with self._lock:
            self._watches.setdefault(queue_id, set()).add(watch)
            self._start()
        try:
            yield watch
        finally:
            with self._lock:
                left = self._watches.get(queue_id, set())
                left.discard(watch)
                if not left:
                    self._watches.pop(queue_id, None)

    def ready(self, timeout: float = LISTENING_WAIT) -> bool:
        """True once the listener LISTENs (a send from then on wakes its watchers)."""
        return self._listening.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name="comind-wakeups", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._listen():
                    return
            except psycopg.Error as exc:  # the server restarted: waiters fall back to re-checks
                log.warning("queue wake-ups lost their connection (%s); re-opening", exc)
            self._listening.clear()
            if self._stop.wait(RECONNECT_SECONDS) or self._retire(idle_for=IDLE_SECONDS):
                return

    def _listen(self) -> bool:
        """LISTEN until stopped (False) or retired for want of watchers (True)."""
        with self._connect() as conn:
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._listening.set()
            idle_since = time.monotonic()
            while not self._stop.is_set():
                for note in notifications(conn, timeout=RECONNECT_SECONDS, stop=self._stop):
                    self._fire(note.payload)
                if self._watches:
                    idle_since = time.monotonic()
                elif self._retire(idle_for=time.monotonic() - idle_since):
                    return True
        return False

    def _retire(self, *, idle_for: float) -> bool:
        """Stop the listener when nobody waited for IDLE_SECONDS (a later watch starts a new
        one): an idle process, or a test's database about to be dropped, keeps no connection."""
        with self._lock:
            if self._watches or idle_for < IDLE_SECONDS:
                return False
            self._thread = None
            self._listening.clear()
            return True

    def _fire(self, payload: str) -> None:
        try:
            queue_id = int(payload)
        except ValueError:
            return
        with self._lock:
            watches = list(self._watches.get(queue_id, ()))
        for watch in watches:
            watch.fire()
