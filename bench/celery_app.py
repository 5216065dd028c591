"""The Celery side of the benchmarks: a task that records its end-to-end latency (queue
benchmark) and a task that upserts one order row (flow benchmark)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import redis
from celery import Celery
from jsonschema import validators

BROKER = os.environ.get("BENCH_CELERY_BROKER", "redis://localhost:6379/0")
app = Celery("bench", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    worker_prefetch_multiplier=10,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_store = redis.Redis.from_url(BROKER)
_local = threading.local()  # one PostgreSQL connection per worker thread

UPSERT = (
    "INSERT INTO orders (id, email, total, sent_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, total = EXCLUDED.total, "
    "sent_at = EXCLUDED.sent_at"
)


@app.task(name="bench.record")
def record(sent: float) -> None:
    _store.rpush("bench:latency", time.time() - sent)


def _thread_state() -> Any:
    if not hasattr(_local, "conn"):
        schema = json.loads(Path(os.environ["BENCH_FLOW_SCHEMA"]).read_text())
        _local.validator = validators.validator_for(schema)(schema)
        _local.conn = psycopg.connect(os.environ["BENCH_FLOW_DSN"], autocommit=True)
    return _local


@app.task(name="bench.upsert_order")
def upsert_order(body: str) -> None:
    """One record of the flow benchmark: parse, validate, cleanse, upsert (its own commit)."""
    state = _thread_state()
    value = json.loads(body)
    if not state.validator.is_valid(value):
        return
    email = value["email"].strip().lower()
    state.conn.execute(UPSERT, (value["id"], email, value["total"], value["sent_at"]))
