"""Moving what the platform's producers wrote to an app's queue on to SQS
(``COMIND_QUEUE_BACKEND=sqs``).

Topics, outboxes and flow sinks write to an app's queue in PostgreSQL inside their own
transactions, which SQS cannot take part in. The forwarder leases what they wrote, sends it
to the queue of the same name on SQS and deletes here what SQS took. A crash between the
two sends a message again: at least once, as SNS delivers to SQS. A FIFO queue's copy
carries the message's id as its deduplication id, so SQS drops such a second copy within
its five-minute window, and a group's messages keep their order.

A batch stays within SQS's size limit (a large message goes alone). A message SQS refuses
(too large for it, say) is tried again a few times, then moved to the queue's dead-letter
queue in PostgreSQL, where ``comind queue`` shows it, or held back when the queue has none:
it never holds up the messages behind it. When SQS does not answer, the batch is released
at once and the forwarder waits longer after each failure, up to a minute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence

from comind.queue import metrics
from comind.queue.errors import QueueDoesNotExist, QueueError
from comind.queue.model import OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.queue.remote import RemoteQueues
from comind.queue.remote_depth import SqsDepths
from comind.queue.types import ReceivedMessage, SendResult

log = logging.getLogger("comind.queue.forwarder")
BATCH = 10  # SQS's batch limit
BATCH_BYTES = 256 * 1024  # SQS's limit on a batch's payload (AWS's classic one: the lowest)
LEASE = 30  # seconds a batch stays the forwarder's; then it is taken again
IDLE = 0.25  # seconds between passes over queues that held nothing
BACKOFF, MAX_BACKOFF = 2.0, 60.0  # seconds after SQS did not answer, doubling
TRIES = 5  # a message SQS refused this many times is moved aside
HELD = 600  # seconds a refused message of a queue without a dead-letter queue waits


class Forwarder:
    """One thread forwarding the queues it follows (the apps' queues of the applied spec)."""

    def __init__(self, local: PostgresQueues, remote: RemoteQueues) -> None:
        self.local, self.remote = local, remote
        self.depths = SqsDepths(remote)  # read by comind_queue_messages
        self._queues: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, queues: Mapping[str, str | None]) -> None:
        """Forward ``queues`` (platform queue name → its dead-letter queue, if any), each
        only once its queue on SQS is known to be this platform's."""
        self._queues = dict(queues)

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
        wait = BACKOFF
        while not self._stop.is_set():
            try:
                moved, failed = self.forward_all()
                if not failed and self.depths.due():
                    self.depths.sample({*self._queues, *filter(None, self._queues.values())})
            except Exception:  # PostgreSQL away (a restart, a switch): the next pass retries
                log.exception("forwarding to SQS")
                moved, failed = 0, True
            if failed:
                self._stop.wait(wait)
                wait = min(wait * 2, MAX_BACKOFF)
                continue
            wait = BACKOFF
            if not moved:
                self._stop.wait(IDLE)

    def forward_all(self) -> tuple[int, bool]:
        """One pass over every followed queue: (messages moved, whether SQS failed a call)."""
        moved, failed = 0, False
        for name, dead_letters in sorted(self._queues.items()):
            try:
                moved += self.forward(name, dead_letters)
            except QueueDoesNotExist:  # made or removed by a sync right now: next pass
                continue
            except QueueError as exc:
                metrics.FORWARD_FAILURES.labels(name).inc()
                log.warning("forwarding %s to SQS: %s", name, exc)
                failed = True
        return moved, failed

    def forward(self, name: str, dead_letters: str | None = None) -> int:
        """Move up to one batch of ``name`` on to SQS; how many SQS took."""
        if not self.remote.ours(self.remote.name(name)):  # another's: the sync says so
            return 0
        got = self.local.receive(name, max_messages=BATCH, visibility_timeout=LEASE)
        taken = 0
        for part in _within_limit(got):
            try:
                results = self._send(name, part)
            except Exception:
                for message in got[got.index(part[0]) :]:  # taken again on the next pass
                    self.local.change_visibility(name, message.receipt_handle, 0)
                raise
            taken += self._settle(name, dead_letters, part, results)
        return taken

    def _send(self, name: str, part: Sequence[ReceivedMessage]) -> list[SendResult | QueueError]:
        """SQS's answer for each message; a batch SQS refuses whole (moto does, for one bad
        message) is sent again one by one to find the message it refuses. A call SQS did
        not answer raises."""
        copies = [_copy(m, name.endswith(".fifo")) for m in part]
        try:
            return self.remote.queues.send_each(self.remote.name(name), copies)
        except QueueError as exc:
            if isinstance(exc, QueueDoesNotExist) or not exc.sender_fault:
                raise  # the queue's or the service's fault, not a message's
            if len(part) == 1:
                return [exc]
        return [self._send(name, [message])[0] for message in part]

    def _settle(self, name: str, dead_letters: str | None, part: Sequence[ReceivedMessage],
                results: Sequence[SendResult | QueueError]) -> int:  # fmt: skip
        """Delete what SQS took; a refused message waits for its next try, or moves aside."""
        sent = [m.receipt_handle for m, r in zip(part, results, strict=True)
                if isinstance(r, SendResult)]  # fmt: skip
        if sent:
            self.local.delete_many(name, sent)
            metrics.FORWARDED.labels(name).inc(len(sent))
        for message, result in zip(part, results, strict=True):
            if isinstance(result, QueueError):
                self._refused(name, dead_letters, message, result)
        return len(sent)

    def _refused(self, name: str, dead_letters: str | None, message: ReceivedMessage,
                 why: QueueError) -> None:  # fmt: skip
        if message.receive_count < TRIES:
            self.local.change_visibility(name, message.receipt_handle, 0)
            return
        metrics.FORWARD_REFUSED.labels(name).inc()
        if dead_letters is None:
            log.warning("SQS refuses message %s of %s (%s): held back %d s", message.message_id,
                        name, why, HELD)  # fmt: skip
            self.local.change_visibility(name, message.receipt_handle, HELD)
            return
        log.warning("SQS refuses message %s of %s (%s): moved to %s", message.message_id,
                    name, why, dead_letters)  # fmt: skip
        self.local.send(dead_letters, [_copy(message, dead_letters.endswith(".fifo"))])
        self.local.delete_many(name, [message.receipt_handle])


def _within_limit(messages: Sequence[ReceivedMessage]) -> Iterator[list[ReceivedMessage]]:
    """``messages`` in order, in batches whose payload stays within SQS's limit."""
    part: list[ReceivedMessage] = []
    size = 0
    for message in messages:
        weight = _size(message)
        if part and size + weight > BATCH_BYTES:
            yield part
            part, size = [], 0
        part.append(message)
        size += weight
    if part:
        yield part


def _size(message: ReceivedMessage) -> int:
    values = (len(k) + len(a.data_type) + len(a.string_value or "") + len(a.binary_value or b"")
              for k, a in message.attributes.items())  # fmt: skip
    return len(message.body.encode()) + sum(values)


def _copy(message: ReceivedMessage, fifo: bool) -> OutgoingMessage:
    return OutgoingMessage(
        message.body,
        dict(message.attributes),
        group_id=message.group_id if fifo else None,
        dedup_id=(message.dedup_id or message.message_id) if fifo else None,
    )
