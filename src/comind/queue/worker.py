"""A consumer loop with SQS semantics, for apps and the flow engine.

Guarantees at-least-once processing: a message is deleted only after its handler
returned. A handler that raises gets the message back after an exponential backoff
with jitter (its visibility is set accordingly) and the error is recorded with it;
after the queue's maxReceiveCount the backend moves it to the dead-letter queue. A
long-running handler keeps its message invisible with a heartbeat that extends the
visibility before it lapses, so no second consumer runs it meanwhile. ``stop``
finishes in-flight messages within a grace period and releases the rest at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from comind.observe.metrics import WORKER_HANDLER_SECONDS, WORKER_MESSAGES
from comind.queue.backend import Queues
from comind.queue.types import ReceivedMessage

log = logging.getLogger("comind.worker")
Handler = Callable[[ReceivedMessage], None]


def retry_delay(
    receive_count: int,
    *,
    base: float = 1.0,
    cap: float = 900.0,
    rand: Callable[[], float] = random.random,
) -> int:
    """Seconds before retry number ``receive_count``: exponential, with 50-100 % jitter."""
    ceiling = min(cap, base * 2 ** max(0, receive_count - 1))
    return max(0, int(ceiling * (0.5 + rand() / 2) + 0.5))


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    visibility_timeout: int = 30
    wait_seconds: int = 5
    grace_seconds: float = 10.0
    backoff_base: float = 1.0
    backoff_cap: float = 900.0


class Worker:
    """Consumes ``queue`` with ``handler`` on ``concurrency`` threads until stopped."""

    def __init__(
        self, queues: Queues, queue: str, handler: Handler, config: WorkerConfig | None = None
    ) -> None:
        self.queues, self.queue, self.handler = queues, queue, handler
        self.config = config or WorkerConfig()
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(self.config.concurrency)
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="comind-work")
        self._inflight: dict[str, _Heartbeat] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="comind-worker", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Receive and dispatch until :meth:`stop`."""
        while not self._stopping.is_set():
            free = self._take_slots()
            try:
                batch = self.queues.receive(
                    self.queue,
                    max_messages=min(10, free),
                    wait_seconds=self.config.wait_seconds,
                    visibility_timeout=self.config.visibility_timeout,
                )
            except Exception as exc:  # backend restarting: wait and retry
                log.warning("receive from %s failed: %s", self.queue, exc)
                batch = []
                self._stopping.wait(1.0)
            for _ in range(free - len(batch)):
                self._slots.release()
            for msg in batch:
                self._dispatch(msg)

    def _take_slots(self) -> int:
        self._slots.acquire()
        free = 1
        while free < 10 and self._slots.acquire(blocking=False):
            free += 1
        return free

    def _dispatch(self, msg: ReceivedMessage) -> None:
        future = self._pool.submit(self._process, msg)
        future.add_done_callback(lambda _f: self._slots.release())

    def _process(self, msg: ReceivedMessage) -> None:
        beat = _Heartbeat(self.queues, self.queue, msg, self.config.visibility_timeout)
        with self._lock:
            self._inflight[msg.receipt_handle] = beat
        began = time.perf_counter()
        try:
            self.handler(msg)
        except Exception as exc:
            beat.stop()
            self._failed(msg, exc)
            outcome = "error"
        else:
            beat.stop()
            self._settle(lambda: self.queues.delete(self.queue, msg.receipt_handle))
            outcome = "ok"
        finally:
            with self._lock:
                self._inflight.pop(msg.receipt_handle, None)
        WORKER_HANDLER_SECONDS.labels(self.queue, outcome).observe(time.perf_counter() - began)
        WORKER_MESSAGES.labels(self.queue, outcome).inc()

    def _failed(self, msg: ReceivedMessage, exc: Exception) -> None:
        delay = retry_delay(
            msg.receive_count, base=self.config.backoff_base, cap=self.config.backoff_cap
        )
        error = f"{type(exc).__name__}: {exc}"
        log.info(
            "handler failed on %s (receive %d), retry in %ss: %s",
            msg.message_id,
            msg.receive_count,
            delay,
            error,
        )
        self._settle(
            lambda: self.queues.fail(self.queue, msg.receipt_handle, error=error, retry_in=delay)
        )

    def _settle(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # the message comes back after its timeout: at-least-once
            log.warning("settling a message on %s failed: %s", self.queue, exc)

    def stop(self) -> None:
        """Stop receiving; finish in-flight work within the grace period, release the rest."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.wait_seconds + 5)
        deadline = time.monotonic() + self.config.grace_seconds
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            unfinished = list(self._inflight.values())
        for beat in unfinished:
            beat.stop()
            self._settle(
                partial(self.queues.change_visibility, self.queue, beat.msg.receipt_handle, 0)
            )
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Heartbeat:
    """Extends a message's visibility at half its timeout while its handler runs."""

    def __init__(self, queues: Queues, queue: str, msg: ReceivedMessage, timeout: int) -> None:
        self._stop = threading.Event()
        self.queues, self.queue, self.msg, self.timeout = queues, queue, msg, timeout
        self._thread = threading.Thread(target=self._run, daemon=True, name="comind-heartbeat")
        self._thread.start()

    def _run(self) -> None:
        interval = max(1.0, self.timeout / 2)
        while not self._stop.wait(interval):
            try:
                self.queues.change_visibility(self.queue, self.msg.receipt_handle, self.timeout)
            except Exception as exc:
                log.warning("heartbeat for %s failed: %s", self.msg.message_id, exc)

    def stop(self) -> None:
        self._stop.set()
