"""Reliability of flows: workers killed with SIGKILL while a stream drains into an upsert
sink and while a tumbling window counts lose and duplicate nothing (each worker in a
directory of its own, sharing nothing with the others but the engines, as on several
hosts), and a batch partition killed mid-run or mid-write leaves no partial output and
re-runs cleanly."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq
import pytest
from flowkit import FlowKit

from comind.flows.batch import BatchRunner, RunResult
from comind.queue.model import OutgoingMessage
from waiting import wait_until

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("flow_worker_proc.py")
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Workers:
    """Flow worker subprocesses, a fixed number alive at a time; any may be SIGKILLed.
    ``hosts``: each worker gets a directory of its own (a copy of the spec, an object store
    of its own), so they share nothing but the engines, as workers on several hosts do."""

    def __init__(self, kit: FlowKit, args: list[str], log: IO[str], *, hosts: bool = False,
                 **env: str) -> None:  # fmt: skip
        self.args, self.log, self.kit, self.hosts = (
            [sys.executable, str(WORKER), *args],
            log,
            kit,
            hosts,
        )
        self.ready_dir = kit.root / "ready"
        self.ready_dir.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "FLOW_PG": json.dumps(asdict(kit.engines.postgres)),
            "FLOW_ROOT": str(kit.root),
            "FLOW_READY_DIR": str(self.ready_dir),
            **env,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def start(self) -> subprocess.Popen[bytes]:
        env = self.env
        if self.hosts:  # the spec copied, no object store or directory in common
            host = self.kit.root / "hosts" / str(len(self.procs))
            shutil.copytree(self.kit.root, host,
                            ignore=shutil.ignore_patterns("objects", "ready", "hosts"))  # fmt: skip
            env = {**env, "FLOW_ROOT": str(host)}
        proc = subprocess.Popen(self.args, env=env, stdout=self.log, stderr=self.log)
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def ready(self) -> bool:
        """Every live worker has built its flow and is taking batches."""
        return all((self.ready_dir / str(p.pid)).exists() for p in self.alive())

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait(30)
        self.kills += 1

    def stop(self) -> None:
        """SIGTERM: each finishes its batch in hand and exits (SIGKILL if it does not)."""
        for proc in self.alive():
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


@pytest.fixture
def worker_log(tmp_path: Path) -> Iterator[IO[str]]:
    with (tmp_path / "workers.log").open("w") as log:
        yield log


def pacing(module: str, seconds: float) -> dict[str, str]:
    """A user step (``module:pause``) that takes ``seconds`` a record: it keeps a batch in
    hand long enough for a kill to land inside it, and the backlog from draining before the
    kills are done."""
    return {
        f"{module}.py": f"import time\n\ndef pause(r):\n    time.sleep({seconds})\n    return r\n"
    }


def backlog(kit: FlowKit, queue: str) -> int:
    stats = kit.layer.queues.stats(queue)
    return stats.visible + stats.in_flight + stats.delayed


def at_most(kit: FlowKit, queue: str, n: int) -> bool:
    return backlog(kit, queue) <= n


def send_all(kit: FlowKit, queue: str, values: list[dict[str, object]]) -> None:
    for i in range(0, len(values), 1000):
        kit.layer.queues.send(queue, [OutgoingMessage(json.dumps(v)) for v in values[i : i + 1000]])


class Feed:
    """The records a test sends into ``queue``: ``first`` at once, then ``chunk`` more each
    time the backlog runs below ``chunk`` while kills remain. A loaded machine starts a
    replacement worker slowly while the survivor drains on, and the backlog must outlast
    every kill; ``sent`` is what the test then checks."""

    def __init__(self, kit: FlowKit, queue: str, make: Callable[[int], dict[str, object]],
                 first: int, chunk: int) -> None:  # fmt: skip
        self.kit, self.queue, self.make, self.chunk = kit, queue, make, chunk
        self.sent = 0
        self.send(first)

    def send(self, n: int) -> None:
        send_all(self.kit, self.queue, [self.make(i) for i in range(self.sent, self.sent + n)])
        self.sent += n

    def top_up(self) -> int:
        """The backlog, after sending a chunk more if it ran low."""
        if backlog(self.kit, self.queue) < self.chunk:
            self.send(self.chunk)
        return backlog(self.kit, self.queue)


def drain_under_kills(feed: Feed, workers: Workers, rng: random.Random, kills: int) -> None:
    """Two workers drain the feed's queue; ``kills`` times, once a random number of records
    more has been acked, one of them (both past their start-up) is killed mid-batch and
    replaced. The last two finish the backlog and stop on SIGTERM."""
    kit, queue = feed.kit, feed.queue
    workers.start()
    workers.start()
    for _ in range(kills):
        assert wait_until(workers.ready, 60)
        target = feed.top_up() - rng.randint(1, feed.chunk * 3 // 4)
        assert wait_until(partial(at_most, kit, queue, target), 60), "no progress"
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere inside a batch
        workers.kill(rng.choice(workers.alive()))
        workers.start()
    assert wait_until(lambda: backlog(kit, queue) == 0, 90), backlog(kit, queue)
    workers.stop()


# -- a stream into an upsert sink

STREAM = """
orders:
  kind: stream
  source: queue://shop/orders
  batch: {size: 500, max_wait: 0}
  steps:
    - validate: schemas/order.json
    - cleanse: {trim: [email], lower: [email]}
    - map: pace_stream:pause
  sink: {postgres: shop.orders, upsert_on: [id]}
"""
ORDERS, STREAM_KILLS = 10_000, 8


def order(i: int) -> dict[str, object]:
    return {
        "id": f"o{i:05d}",
        "email": f"  User{i}@Example.COM ",
        "total": i * 0.25,
        "customer_id": i % 977,
        "created_at": (T0 + timedelta(seconds=i)).isoformat(),
    }


def test_kill_9_workers_during_a_stream_into_an_upsert_sink_loses_and_duplicates_nothing(
    kit: FlowKit, worker_log: IO[str]
) -> None:
    kit.builder(STREAM, files=pacing("pace_stream", 0.0005))
    kit.layer.admin.set_attributes("shop/orders", {"VisibilityTimeout": "2"})
    feed = Feed(kit, "shop/orders", order, ORDERS, 2_000)
    workers = Workers(kit, ["stream", "orders"], worker_log, hosts=True)
    try:
        drain_under_kills(feed, workers, random.Random(11), STREAM_KILLS)
    finally:
        workers.stop()
    assert workers.kills == STREAM_KILLS

    rows = kit.rows("SELECT id, email, total, customer_id, created_at FROM orders")
    assert len(rows) == feed.sent
    assert kit.rows("SELECT count(DISTINCT id) FROM orders") == [(feed.sent,)]  # no id twice
    got = {r[0]: (r[1], float(r[2]), r[3], r[4]) for r in rows}  # type: ignore[arg-type]
    want = {
        f"o{i:05d}": (f"user{i}@example.com", i * 0.25, i % 977, T0 + timedelta(seconds=i))
        for i in range(feed.sent)
    }
    assert got.keys() == want.keys()
    assert [k for k in want if got[k] != want[k]] == []
    stats = kit.layer.queues.stats("shop/orders")
    assert (stats.visible, stats.in_flight, stats.delayed) == (0, 0, 0)
    assert backlog(kit, "_flows/orders-dlq") == 0
    assert kit.engines.state.quarantined("orders") == []


# -- a tumbling-window aggregate

WINDOW = """
counts:
  kind: stream
  source: queue://shop/orders
  batch: {size: 100, max_wait: 0}
  steps:
    - map: pace_window:pause
  window: {kind: tumbling, size: 60, field: at, key: country, allowed_lateness: 7200}
  sink: {postgres: shop.order_counts, upsert_on: [window_start, country]}
"""
EVENTS, WINDOWS, WINDOW_KILLS = 6_000, 20, 6


def emitted(kit: FlowKit) -> int:
    """Rows in the window sink's table, which its first write creates."""
    if kit.rows("SELECT to_regclass('order_counts')") == [(None,)]:
        return 0
    ((n,),) = kit.rows("SELECT count(*) FROM order_counts")
    assert isinstance(n, int)
    return n


def test_kill_9_workers_during_a_tumbling_window_keeps_exact_counts(
    kit: FlowKit, worker_log: IO[str]
) -> None:
    """Events arrive in no particular time order; the allowed lateness (longer than their
    whole span) keeps every window open until one far-future event closes them all."""
    kit.builder(WINDOW, files=pacing("pace_window", 0.002))
    kit.layer.admin.set_attributes("shop/orders", {"VisibilityTimeout": "2"})
    rng = random.Random(23)
    want = Counter[tuple[datetime, str]]()

    def event(i: int) -> dict[str, object]:
        at = T0 + timedelta(seconds=rng.uniform(0, WINDOWS * 60))
        country = rng.choice(["NL", "DE", "FR"])
        want[(at.replace(second=0, microsecond=0), country)] += 1
        return {"id": i, "at": at.isoformat(), "country": country}

    feed = Feed(kit, "shop/orders", event, EVENTS, 1_000)
    assert len(want) == WINDOWS * 3
    workers = Workers(kit, ["stream", "counts"], worker_log, hosts=True)
    try:
        drain_under_kills(feed, workers, random.Random(29), WINDOW_KILLS)  # apart from the data
        assert emitted(kit) == 0  # nothing closed yet
        closer = T0 + timedelta(days=1)
        send_all(kit, "shop/orders", [{"id": -1, "at": closer.isoformat(), "country": "NL"}])
        workers.start()
        assert wait_until(lambda: backlog(kit, "shop/orders") == 0, 60)
        assert wait_until(lambda: emitted(kit) == WINDOWS * 3, 60), emitted(kit)
    finally:
        workers.stop()
    assert workers.kills == WINDOW_KILLS

    rows = kit.rows("SELECT window_start, window_end, country, count FROM order_counts")
    got = {(datetime.fromisoformat(str(s)), str(c)): int(n) for s, _, c, n in rows}  # type: ignore[call-overload]
    assert got == dict(want)
    assert all(
        datetime.fromisoformat(str(e)) - datetime.fromisoformat(str(s)) == timedelta(minutes=1)
        for s, e, _, _ in rows
    )
    assert sum(got.values()) == feed.sent
    assert kit.engines.state.quarantined("counts") == []
    assert backlog(kit, "_flows/counts-dlq") == 0


# -- a batch partition killed mid-run and mid-write

BATCH = """
daily:
  kind: batch
  on_demand: true
  source: postgres://shop/sales
  partition: {by: day, field: sold_at}
  steps:
    - map: pace_batch:pause
    - aggregate: {group_by: [country], count: orders, sum: [total]}
  sink: {objects: "lake/revenue/{date}.parquet"}
"""
SALES, DAY, KEY = 2_000, "2026-11-25", "revenue/2026-11-25.parquet"


def _expected(kit: FlowKit) -> list[dict[str, object]]:
    rows = kit.rows(
        "SELECT country, count(*), sum(total) FROM sales"
        " WHERE sold_at >= '2026-11-25Z' AND sold_at < '2026-11-26Z' GROUP BY 1 ORDER BY 1"
    )
    return [{"country": c, "orders": n, "sum_total": float(s)} for c, n, s in rows]  # type: ignore[arg-type]


def _parquet(kit: FlowKit) -> list[dict[str, object]]:
    table = pq.read_table(io.BytesIO(kit.engines.objects.get("lake", KEY)))
    return sorted(table.to_pylist(), key=lambda r: str(r["country"]))


def _last_run(kit: FlowKit) -> dict[str, object]:
    runs = [r for r in kit.engines.state.runs("daily") if r["partition"] == DAY]
    return runs[0] if runs else {}


def _run_once_free(runner: BatchRunner) -> RunResult:
    """The partition run as soon as the killed worker's claim is gone: PostgreSQL ends the
    dead client's session (and releases its lock) a moment after the kill, not at once."""
    ran: list[RunResult] = []

    def free() -> bool:
        ran.append(runner.run(DAY))
        return ran[-1].status != "skipped"

    assert wait_until(free, 30), ran[-1]
    return ran[-1]


def _temp_files(kit: FlowKit) -> list[Path]:
    # the file store stages every write in its own area, outside every bucket
    return sorted((kit.root / "objects" / ".tmp").glob(".comind-tmp-*"))


def test_a_batch_partition_killed_mid_run_or_mid_write_leaves_no_partial_output(
    kit: FlowKit, worker_log: IO[str], tmp_path: Path
) -> None:
    rng = random.Random(5)
    kit.execute(
        "CREATE TABLE sales (id int PRIMARY KEY, sold_at timestamptz, country text, total numeric)"
    )
    kit.execute(
        f"INSERT INTO sales SELECT i, '2026-11-24T12:00Z'::timestamptz + i * interval '61 s',"
        f" (ARRAY['NL', 'DE', 'FR', 'BE'])[1 + i % 4], (i % 97) + 0.5"
        f" FROM generate_series(1, {SALES * 2}) AS i"
    )
    assert kit.rows(
        "SELECT count(*) FROM sales WHERE sold_at >= '2026-11-25Z' AND sold_at < '2026-11-26Z'"
    ) == [(1416,)]
    builder = kit.builder(BATCH, files=pacing("pace_batch", 0.001))
    marker = tmp_path / "renaming"
    mid_run = Workers(kit, ["batch", "daily", DAY], worker_log)
    mid_write = Workers(
        kit, ["batch", "daily", DAY], worker_log, FLOW_HANG_BEFORE_RENAME=str(marker)
    )
    try:
        # 1. killed while its steps run: the run stays 'running', nothing is written
        mid_run.start()
        assert wait_until(lambda: _last_run(kit).get("status") == "running", 30)
        time.sleep(rng.uniform(0.2, 0.8))
        assert mid_run.alive(), "the run finished before it could be killed"
        mid_run.kill(mid_run.procs[0])
        assert kit.engines.objects.head("lake", KEY) is None
        assert list(kit.engines.objects.list("lake")) == []
        assert _last_run(kit)["status"] == "running"

        # 2. killed while the object is written (the temp file is complete, not yet renamed)
        mid_write.start()
        assert wait_until(marker.exists, 60)
        # staged: the object's bytes, and its attributes (etag, type) that go in with them
        staged = _temp_files(kit)
        assert 1 <= len(staged) <= 2 and max(f.stat().st_size for f in staged) > 0
        mid_write.kill(mid_write.procs[0])
        assert kit.engines.objects.head("lake", KEY) is None
        assert list(kit.engines.objects.list("lake")) == []
        assert _last_run(kit)["status"] == "running"
    finally:
        mid_run.stop()
        mid_write.stop()

    runner = BatchRunner("daily", builder)
    assert runner.missing("2026-11-24", "2026-11-26") == ["2026-11-24", DAY, "2026-11-26"]
    result = _run_once_free(runner)
    assert (result.status, result.rows_in, result.rows_out) == ("succeeded", 1416, 4)
    assert _parquet(kit) == _expected(kit)
    assert [o.key for o in kit.engines.objects.list("lake")] == [KEY]
    assert runner.missing("2026-11-25", "2026-11-25") == []
    statuses = [r["status"] for r in kit.engines.state.runs("daily") if r["partition"] == DAY]
    assert statuses == ["succeeded", "running", "running"]

    # 3. a re-run over changed data killed mid-write leaves the previous output whole
    before = kit.engines.objects.get("lake", KEY)
    kit.execute("UPDATE sales SET total = total + 1000")
    marker.unlink()
    again = Workers(kit, ["batch", "daily", DAY], worker_log, FLOW_HANG_BEFORE_RENAME=str(marker))
    try:
        again.start()
        assert wait_until(marker.exists, 60)
        again.kill(again.procs[0])
    finally:
        again.stop()
    assert kit.engines.objects.get("lake", KEY) == before
    assert [o.key for o in kit.engines.objects.list("lake")] == [KEY]
    assert runner.missing(DAY, DAY) == [DAY]
    assert _run_once_free(runner).status == "succeeded"
    assert _parquet(kit) == _expected(kit)
