"""Reliability: consumers killed mid-batch and PostgreSQL restarted under load lose nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.dba import dba

from comind.embedded.settings import Settings
from comind.platform import Platform
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.types import ReceivedMessage
from comind.queue.worker import Worker, WorkerConfig
from comind.stores.postgres import PgTarget
from waiting import wait_until

pytestmark = pytest.mark.slow
CONSUMER = Path(__file__).with_name("consumer_proc.py")
TOTAL, KILLS = 5_000, 10


def count(pg: PgTarget, sql: str) -> int:
    with dba(pg) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def loaded(pg: PgTarget) -> Iterator[MessageLayer]:
    layer = MessageLayer.open(pg, max_connections=4)
    layer.admin.create("r/jobs", {"VisibilityTimeout": "2"})
    with dba(pg) as conn:
        conn.execute("CREATE TABLE processed (id text PRIMARY KEY)")
        conn.execute("CREATE TABLE attempts (id text NOT NULL)")
    for start in range(0, TOTAL, 10):
        layer.queues.send(
            "r/jobs", [OutgoingMessage(body=str(i)) for i in range(start, start + 10)]
        )
    yield layer
    layer.close()


def test_kill_9_consumers_mid_batch_loses_nothing(pg: PgTarget, loaded: MessageLayer) -> None:
    env = {**os.environ, "CONSUMER_CONNINFO": pg.conninfo(), "CONSUMER_QUEUE": "r/jobs"}
    rng = random.Random(7)
    for _ in range(KILLS):
        before = count(pg, "SELECT count(*) FROM attempts")
        proc = subprocess.Popen([sys.executable, str(CONSUMER)], env=env)
        assert wait_until(lambda b=before: count(pg, "SELECT count(*) FROM attempts") > b, 60)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    survivor = subprocess.Popen([sys.executable, str(CONSUMER)], env=env)
    try:
        assert wait_until(lambda: count(pg, "SELECT count(*) FROM processed") == TOTAL, 120)
        assert wait_until(lambda: loaded.queues.stats("r/jobs").in_flight == 0, 30)
    finally:
        survivor.terminate()
        survivor.wait(30)
    assert count(pg, "SELECT count(DISTINCT id) FROM attempts") == TOTAL
    assert count(pg, "SELECT count(*) FROM attempts") >= TOTAL
    assert loaded.queues.stats("r/jobs").visible == 0


def test_postgres_restart_under_load_loses_nothing(engine_home: Path) -> None:
    run = Platform(
        Settings(home=engine_home, api_port=0, check_interval=0.2, wal_archive=False), about={}
    )
    run.start()
    try:
        assert run.messages is not None and run.db is not None
        _restart_under_load(run, run.messages, run.db)
    finally:
        run.stop()


def _restart_under_load(run: Platform, layer: MessageLayer, db: PgTarget) -> None:
    layer.admin.create("load/jobs", {"VisibilityTimeout": "5"})
    seen: set[str] = set()
    lock = threading.Lock()

    def handle(msg: ReceivedMessage) -> None:
        with lock:
            seen.add(msg.body)

    sent: list[str] = []

    def produce() -> None:
        for i in range(2000):
            while True:
                try:
                    layer.queues.send("load/jobs", [OutgoingMessage(body=str(i))])
                    break
                except psycopg.Error:
                    time.sleep(0.1)  # the database is restarting: retry (at-least-once)
            sent.append(str(i))

    config = WorkerConfig(
        concurrency=4, visibility_timeout=5, wait_seconds=1, backoff_base=0, backoff_cap=0
    )
    worker = Worker(layer.queues, "load/jobs", handle, config)
    worker.start()
    producer = threading.Thread(target=produce)
    producer.start()
    assert wait_until(lambda: len(sent) > 300, 60)
    old = run.engines.postgres.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    producer.join(120)
    assert len(sent) == 2000
    assert wait_until(lambda: len(seen) == 2000, 120), len(seen)
    assert wait_until(lambda: count(db, "SELECT count(*) FROM comind.messages") == 0, 60)
    worker.stop()
    assert run.engines.postgres.pid != old
