"""How many messages the apps' queues hold on SQS (``COMIND_QUEUE_BACKEND=sqs``), for
``comind_queue_messages``: their messages rest there, and the PostgreSQL side holds only
what waits to be forwarded, so the gauge and the dead-letter alert on it read SQS too.

Sampled on the forwarder's thread at most every SAMPLE_SECONDS (not while SQS fails the
forwarding), so a scrape never waits on SQS; while SQS does not answer, a queue keeps the
last value read (never a zero that would read as empty and clear an alert)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping

from comind.errors import ComindError
from comind.queue.errors import QueueDoesNotExist
from comind.queue.metrics import Depth
from comind.queue.remote import RemoteQueues

log = logging.getLogger("comind.queue.remote_depth")
SAMPLE_SECONDS = 15.0
ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed")  # fmt: skip


class SqsDepths:
    def __init__(self, remote: RemoteQueues) -> None:
        self.remote = remote
        self._values: dict[str, Depth] = {}
        self._sampled = float("-inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        return time.monotonic() - self._sampled >= SAMPLE_SECONDS

    def sample(self, queues: Iterable[str]) -> None:
        """Read the depth of each of ``queues`` (platform queue names) that is ours on SQS.
        When SQS stops answering, the rest keep their last value (stale, never a zero that
        would clear the dead-letter alert) and the sample ends: the forwarder's thread does
        not wait on every queue in turn."""
        self._sampled, names = time.monotonic(), sorted(set(queues))
        with self._lock:
            found = {name: self._values[name] for name in names if name in self._values}
        for name in names:
            try:
                there = self.remote.name(name)
                if not self.remote.ours(there):
                    found.pop(name, None)
                    continue
                attrs = self.remote.admin.attributes(there)
                found[name] = (int(attrs.get(ATTRIBUTES[0], 0)), int(attrs.get(ATTRIBUTES[1], 0)),
                               int(attrs.get(ATTRIBUTES[2], 0)))  # fmt: skip
            except QueueDoesNotExist:
                found.pop(name, None)
            except (ComindError, ValueError) as exc:  # SQS away: keep what was read before
                log.debug("depth of %s on SQS unavailable: %s", name, exc)
                break
        with self._lock:
            self._values = found

    def current(self) -> Mapping[str, Depth]:
        with self._lock:
            return dict(self._values)
