"""The one place a queue backend is built from configuration.

The composition root calls :func:`open_queue_backend` with the :class:`QueueSettings` and,
for ``postgres``, the platform database's target; callers get the same two interfaces
(:class:`Queues`, :class:`QueueAdmin`) whichever backend is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from comind.queue.backend import QueueAdmin, Queues
from comind.queue.config import QueueConfigError, QueueSettings, check
from comind.queue.layer import MessageLayer
from comind.queue.sqs import SqsQueueAdmin, SqsQueues, sqs_client
from comind.stores.postgres import PgTarget


@dataclass(frozen=True)
class QueueBackend:
    """An open queue backend; ``close`` releases its connections."""

    kind: str
    queues: Queues
    admin: QueueAdmin
    close: Callable[[], None]

    def __enter__(self) -> QueueBackend:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_queue_backend(
    settings: QueueSettings,
    *,
    postgres: PgTarget | None = None,
    layer: MessageLayer | None = None,
    max_connections: int = 20,
) -> QueueBackend:
    """The backend ``settings`` choose; a combination that cannot work is refused (one
    line, :class:`QueueConfigError`) before anything is opened. For ``postgres``: the
    platform's own ``layer`` when given (its pool is shared and stays open after ``close``),
    else a new one on ``postgres``."""
    check(settings)
    if settings.queue_backend == "postgres":
        if layer is not None:
            return QueueBackend("postgres", layer.queues, layer.admin, lambda: None)
        if postgres is None:
            raise QueueConfigError(
                "COMIND_QUEUE_BACKEND=postgres needs the platform database, and none was given"
            )
        layer = MessageLayer.open(postgres, max_connections=max_connections)
        return QueueBackend("postgres", layer.queues, layer.admin, layer.close)
    client = sqs_client(settings)
    queues = SqsQueues(client)
    return QueueBackend("sqs", queues, SqsQueueAdmin(queues), client.close)
