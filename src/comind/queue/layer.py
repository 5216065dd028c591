"""The message layer over one platform database: queues, queue admin and topics."""

from __future__ import annotations

from comind.queue.moves import MoveTasks
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_admin import PostgresQueueAdmin
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.postgres import PgTarget, Pool, make_pool


class MessageLayer:
    """Everything of the ``postgres`` backend sharing one connection pool."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.queues = PostgresQueues(pool)
        self.admin = PostgresQueueAdmin(self.queues)
        self.topics = PostgresTopics(self.queues)
        self.moves = MoveTasks(self.queues)

    @classmethod
    def open(cls, target: PgTarget, *, max_connections: int = 20) -> MessageLayer:
        return cls(make_pool(target, max_size=max_connections))

    def close(self) -> None:
        self.queues.wakeups.close()
        self.pool.close()
