"""Long polls of the SQS endpoint (``ReceiveMessage`` with ``WaitTimeSeconds`` > 0), awaited
on the event loop: a waiting receive holds no worker thread and no pooled connection.

A wait registers a watch on its queue (:mod:`comind.queue.postgres_wakeups`: one LISTEN
connection for the whole process) and takes messages, in a worker thread for one short
statement, each time a send to that queue wakes it or ``RECHECK_SECONDS`` pass. So one app's
hundred long polls cost nothing while they wait, and never take the threads and connections
another app's SendMessage or the control API need.

Each app may have ``per_app`` long polls waiting at once. A receive beyond that is answered
at once with what is visible, or, when nothing is, with an empty answer after
``CAPPED_WAIT`` seconds: a normal SQS answer (an empty receive before WaitTimeSeconds is
allowed), short enough that a consumer loop simply asks again, long enough that it does not
spin.

A wait ends early, with nothing, once its client has closed the connection (a consumer
stopped or killed): no one would get the messages, its slot is free for the app's next
poll, and a server shutting down is not held for the rest of WaitTimeSeconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from comind.queue import metrics
from comind.queue.postgres import RECHECK_SECONDS, Poll, PostgresQueues
from comind.queue.types import ReceivedMessage

LONG_POLLS_PER_APP = 10
CAPPED_WAIT = 1.0
Gone = Callable[[], Awaitable[object]]  # returns once the client has gone away


@dataclass(frozen=True)
class Waiting:
    """A receive that found nothing yet and may wait ``poll.wait`` seconds."""

    app: str
    poll: Poll
    render: Callable[[list[ReceivedMessage]], dict[str, Any]]
    began: float = field(default_factory=time.monotonic)


class LongPolls:
    """The waiting receives of one endpoint, at most ``per_app`` per app."""

    def __init__(self, queues: PostgresQueues, *, per_app: int = LONG_POLLS_PER_APP) -> None:
        self.queues, self.per_app = queues, per_app
        self._waiting: dict[str, int] = {}  # touched on the event loop only

    def waiting(self, app: str) -> int:
        return self._waiting.get(app, 0)

    async def answer(self, pending: Waiting, gone: Gone | None = None) -> dict[str, Any]:
        """The receive's answer, once messages came, its wait is over or ``gone`` returned."""
        if self.waiting(pending.app) >= self.per_app:
            metrics.LONG_POLLS_CAPPED.labels(pending.app).inc()
            got = await self._capped(pending)
        else:
            got = await self._wait(pending, asyncio.ensure_future(gone() if gone else _never()))
        seconds = time.monotonic() - pending.began
        metrics.RECEIVE_SECONDS.labels(pending.poll.queue.name).observe(seconds)
        return pending.render(got)

    async def _capped(self, pending: Waiting) -> list[ReceivedMessage]:
        got = await run_in_threadpool(self.queues.take, pending.poll)
        if not got:
            await asyncio.sleep(min(CAPPED_WAIT, pending.poll.wait))
        return got

    async def _wait(self, pending: Waiting, gone: asyncio.Future[object]) -> list[ReceivedMessage]:
        app, poll = pending.app, pending.poll
        self._waiting[app] = self.waiting(app) + 1
        metrics.LONG_POLLS.labels(app).inc()
        try:
            loop = asyncio.get_running_loop()
            deadline = pending.began + poll.wait
            with self.queues.wakeups.watch(poll.queue.id, loop) as watch:
                # taken once the watch is in place: a send from then on wakes it
                got = await run_in_threadpool(self.queues.take, poll)
                while not got and (left := deadline - time.monotonic()) > 0:
                    woken = asyncio.ensure_future(watch.wait_async(min(left, RECHECK_SECONDS)))
                    await asyncio.wait((woken, gone), return_when=asyncio.FIRST_COMPLETED)
                    if gone.done():  # nobody to hand messages to: take none
                        woken.cancel()
                        break
                    got = await run_in_threadpool(self.queues.take, poll)
            return got
        finally:
            gone.cancel()
            self._waiting[app] -= 1
            metrics.LONG_POLLS.labels(app).dec()


async def _never() -> None:
    await asyncio.Event().wait()
