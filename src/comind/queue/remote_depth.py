"""How many messages the apps' queues hold on SQS (``COMIND_QUEUE_BACKEND=sqs``), for
``comind_queue_messages``: their messages rest there, and the PostgreSQL side holds only
what waits to be forwarded, so the gauge and the dead-letter alert on it read SQS too.

Sampled on the forwarder's thread at most every SAMPLE_SECONDS, so a scrape never waits on
SQS; a queue SQS does not answer for has no value until it does (left out, never a zero
that would read as empty)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping

from comind.errors import ComindError
from comind.queue.remote import RemoteQueues

log = logging.getLogger("comind.queue.remote_depth")
SAMPLE_SECONDS = 15.0
Depth = tuple[int, int, int]  # visible, in flight, delayed
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
        """Read the depth of each of ``queues`` (platform queue names) that is ours on SQS."""
        self._sampled = time.monotonic()
        found: dict[str, Depth] = {}
        for name in queues:
            try:
                there = self.remote.name(name)
                if self.remote.ours(there):
                    attrs = self.remote.admin.attributes(there)
                    found[name] = (int(attrs.get(ATTRIBUTES[0], 0)),
                                   int(attrs.get(ATTRIBUTES[1], 0)),
                                   int(attrs.get(ATTRIBUTES[2], 0)))  # fmt: skip
            except (ComindError, ValueError) as exc:  # QueueError included
                log.debug("depth of %s on SQS unavailable: %s", name, exc)
        with self._lock:
            self._values = found

    def current(self) -> Mapping[str, Depth]:
        with self._lock:
            return dict(self._values)
