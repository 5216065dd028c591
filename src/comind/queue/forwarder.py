"""Moving what the platform's producers wrote to an app's queue on to SQS
(``COMIND_QUEUE_BACKEND=sqs``).

Topics, outboxes and flow sinks write to an app's queue in PostgreSQL inside their own
transactions, which SQS cannot take part in. The forwarder leases what they wrote, sends it
to the queue of the same name on SQS and deletes it here once SQS has taken it. A crash
between the two sends a batch again: at least once, as SNS delivers to SQS. A FIFO queue's
copy carries the message's id as its deduplication id, so SQS drops such a second copy
within its five-minute window, and a group's messages keep their order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from comind.queue import metrics
from comind.queue.errors import QueueDoesNotExist, QueueError
from comind.queue.model import OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.queue.remote import RemoteQueues
from comind.queue.types import ReceivedMessage

log = logging.getLogger("comind.queue.forwarder")
BATCH = 10  # SQS's batch limit
LEASE = 30  # seconds a batch stays the forwarder's; then it is taken again
IDLE = 0.25  # seconds between passes over queues that held nothing
BACKOFF = 2.0  # seconds after SQS refused a batch


class Forwarder:
    """One thread forwarding the queues it follows (the apps' queues of the applied spec)."""

    def __init__(self, local: PostgresQueues, remote: RemoteQueues) -> None:
        self.local, self.remote = local, remote
        self._names: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, names: Iterable[str]) -> None:
        """Forward ``names`` (platform queue names) from now on."""
        self._names = tuple(sorted(set(names)))

    def start(self) -> None:
        """Forward on a thread of its own until :meth:`stop` (a second call does nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="comind-forward", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                moved, failed = self.forward_all()
            except Exception:  # PostgreSQL away (a restart, a switch): the next pass retries
                log.exception("forwarding to SQS")
                moved, failed = 0, True
            if failed:
                self._stop.wait(BACKOFF)
            elif not moved:
                self._stop.wait(IDLE)

    def forward_all(self) -> tuple[int, bool]:
        """One pass over every followed queue: (messages moved, whether any batch failed)."""
        moved, failed = 0, False
        for name in self._names:
            try:
                moved += self.forward(name)
            except QueueDoesNotExist:  # made or removed by a sync right now: next pass
                continue
            except QueueError as exc:
                metrics.FORWARD_FAILURES.labels(name).inc()
                log.warning("forwarding %s to SQS: %s", name, exc)
                failed = True
        return moved, failed

    def forward(self, name: str) -> int:
        """Move up to one batch of ``name`` on to SQS; how many moved."""
        got = self.local.receive(name, max_messages=BATCH, visibility_timeout=LEASE)
        if not got:
            return 0
        fifo = name.endswith(".fifo")
        try:
            self.remote.queues.send(self.remote.name(name), [_copy(m, fifo) for m in got])
        except Exception:
            for message in got:  # taken again on the next pass, not after the lease
                self.local.change_visibility(name, message.receipt_handle, 0)
            raise
        self.local.delete_many(name, [m.receipt_handle for m in got])
        metrics.FORWARDED.labels(name).inc(len(got))
        return len(got)


def _copy(message: ReceivedMessage, fifo: bool) -> OutgoingMessage:
    return OutgoingMessage(
        message.body,
        dict(message.attributes),
        group_id=message.group_id if fifo else None,
        dedup_id=(message.dedup_id or message.message_id) if fifo else None,
    )
