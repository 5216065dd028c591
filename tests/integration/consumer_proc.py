"""A consumer process for the reliability tests (run as a script, killed with SIGKILL).

Its handler is idempotent: it records each message id once in ``processed`` and every
attempt in ``attempts``, so the test can tell "processed at least once" from "exactly once
in effect".
"""

from __future__ import annotations

import os
import signal
import threading

from psycopg_pool import ConnectionPool

from comind.queue.postgres import PostgresQueues
from comind.queue.types import ReceivedMessage
from comind.queue.worker import Worker, WorkerConfig


def main() -> None:
    pool = ConnectionPool(
        os.environ["CONSUMER_CONNINFO"],
        min_size=1,
        max_size=8,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
    )

    def handle(msg: ReceivedMessage) -> None:
        with pool.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO public.attempts (id) VALUES (%s)", (msg.body,))
            conn.execute(
                "INSERT INTO public.processed (id) VALUES (%s) ON CONFLICT DO NOTHING",
                (msg.body,),
            )

    config = WorkerConfig(
        concurrency=4,
        visibility_timeout=2,
        wait_seconds=1,
        grace_seconds=2,
        backoff_base=0,
        backoff_cap=0,
    )
    worker = Worker(PostgresQueues(pool), os.environ["CONSUMER_QUEUE"], handle, config)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    worker.start()
    done.wait()
    worker.stop()


if __name__ == "__main__":
    main()
