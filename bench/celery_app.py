"""The Celery side of the queue benchmark: one task that records its end-to-end latency."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

BROKER = os.environ.get("BENCH_CELERY_BROKER", "redis://localhost:6379/0")
app = Celery("bench", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    worker_prefetch_multiplier=10,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_store = redis.Redis.from_url(BROKER)


@app.task(name="bench.record")
def record(sent: float) -> None:
    _store.rpush("bench:latency", time.time() - sent)
