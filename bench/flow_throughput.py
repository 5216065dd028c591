"""Flow throughput and end-to-end latency: a stream flow against the code it replaces.

N JSON order records go through queue → validate → cleanse → PostgreSQL upsert sink. All
systems run on this machine against the embedded PostgreSQL and Redis of a platform started
with ``comind up --detach`` in its own process and state directory (on a platform repo that
declares nothing, so no app or flow worker of its own competes for the CPU), and all write
the same table of an app database, created beforehand (``id`` primary key, ``email``,
``total``, ``sent_at``, and ``committed_at`` defaulting to ``clock_timestamp()``):

- comind flow engine: ``FlowBuilder(...).runner("ingest")`` of a spec declaring the flow
  (batch 500, ``validate`` with a JSON Schema, ``cleanse`` trim/lower of the email, a
  ``postgres`` sink upserting on ``id``), ``run_once`` in a loop, in 1 and 2 processes.
- hand-written psycopg loop (the practical limit): ``lease`` 500 from the same queue,
  ``json.loads``, the same JSON Schema validation and email cleansing, COPY into a session
  temporary table and ``INSERT ... ON CONFLICT (id) DO UPDATE`` in one transaction, then
  ``delete_many``; in 1 and 2 processes. It is the limit because it does only that: its
  stage table is created once per session, it needs no ``DISTINCT ON`` (the ids are
  unique) and keeps no statistics, quarantine or metrics. Every record is valid.
- Celery 5 with the Redis broker, ``--pool threads -c 4``: one task per record doing the
  same parse, validation, cleansing and a one-row ``INSERT ... ON CONFLICT`` (its own
  commit). Celery has no queue layer, so the records are published as tasks; it is capped
  at ``min(N, 20,000)`` records (records/s stays comparable).

Each system is measured in two phases, the same way for all of them:

1. Throughput (records/s): the N records are sent first (untimed; queued messages, or
   published Celery tasks while the worker consumes another queue), then the warmed-up
   consumers are let go and the clock runs from then until the last row's ``committed_at``.
   A producer running at the same time would measure the producer instead: on a 2-core
   machine one Python producer sending batches of 10 is about as fast as one flow worker,
   and it takes CPU from the consumers.
2. End-to-end latency (p50/p99 ms) at half load: a producer in its own process sends
   records for 10 s at half the records/s the system reached in phase 1 (at most 4,000/s,
   what one producer process reliably sends here; ``--rate`` sets one rate for all), in
   batches of 10 every 10/rate s: ``layer.queues.send`` for the queue systems, ten
   ``send_task`` calls for Celery. Each record carries its send time ``sent_at``; its
   latency is its row's ``committed_at - sent_at``. A rate the system sustains shows the
   pipeline's latency (polling, batching, commit), not the length of a backlog, which a
   producer outrunning the consumer would grow without bound. The rate actually reached
   is in the table.

The ratio column divides records/s by the hand-written loop's with the same number of
processes (Celery: by the one-process loop). The issue's targets: flow ≥ 0.5x the
hand-written loop and ≥ 5x Celery.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from celery import Celery
from detached import detached_platform
from jsonschema import validators
from psycopg.conninfo import make_conninfo

from comind.embedded.home import StateDir
from comind.embedded.state import PlatformState
from comind.flows.build import FlowBuilder, FlowEngines
from comind.platform.local import platform_db, platform_redis
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.spec import load_spec
from comind.spec.names import flow_dead_letter_queue
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import ensure_database

RECORDS = 200_000
CELERY_CAP = 20_000
LOAD = 0.5  # the latency phase offers this share of the system's measured records/s
MAX_RATE = 4_000.0  # ... at most (one producer process, sharing 2 cores with the rest)
LATENCY_SECONDS = 10.0  # the latency phase's length (at most N records)
SEND_BATCH = 10  # records per send in the latency phase
PRELOAD_BATCH = 500  # records per send when filling the queue (untimed)
LEASE = 500  # the flow's batch size, and the hand-written loop's lease
FLOW, QUEUE, DATABASE = "ingest", "shop/orders", "benchshop"
CELERY_TASK, CELERY_QUEUE, CELERY_IDLE = "bench.upsert_order", "flowbench", "flowbench-idle"

ORDER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "email", "total", "sent_at"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "total": {"type": "number", "minimum": 0},
        "sent_at": {"type": "number"},
    },
}
SPEC = f"""\
platform: {{name: flow-bench}}
apps:
  shop:
    run: "true"
    database: {{name: {DATABASE}}}
    queues:
      orders: {{}}
datasets:
  shop.orders:
    store: postgres://shop/orders
    schema: schemas/order.json
flows:
  {FLOW}:
    kind: stream
    source: queue://{QUEUE}
    batch: {{size: {LEASE}, max_wait: 0}}
    steps:
      - validate: schemas/order.json
      - cleanse: {{trim: [email], lower: [email]}}
    sink: {{postgres: shop.orders, upsert_on: [id]}}
"""
TABLE = (
    "CREATE TABLE orders (id text PRIMARY KEY, email text, total numeric, "
    "sent_at double precision, committed_at timestamptz DEFAULT clock_timestamp())"
)
STAGE = (
    "CREATE TEMP TABLE stage (id text, email text, total numeric, sent_at double precision) "
    "ON COMMIT DELETE ROWS"
)
MERGE = (
    "INSERT INTO orders (id, email, total, sent_at) SELECT id, email, total, sent_at FROM stage "
    "ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, total = EXCLUDED.total, "
    "sent_at = EXCLUDED.sent_at"
)
STATS = """
SELECT count(*), extract(epoch FROM max(committed_at))::float8,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lat),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY lat),
       (count(*) - 1) / nullif(max(sent_at) - min(sent_at), 0)
FROM (SELECT committed_at, sent_at, extract(epoch FROM committed_at)::float8 - sent_at AS lat
      FROM orders) AS t
"""


@dataclass(frozen=True)
class Bench:
    """Where everything is; passed to the consumer and producer processes."""

    home: Path
    spec: Path
    objects: Path
    dsn: str  # the app database, as the superuser
    broker: str


@dataclass(frozen=True)
class Row:
    system: str
    records: int
    rate: float  # records/s
    offered: float  # records/s sent in the latency phase
    p50: float  # end-to-end latency, s
    p99: float
    baseline: str  # the row whose records/s the ratio divides by


def _body(i: int) -> str:
    value = {"id": str(i), "email": f"  User{i}@Example.COM ", "total": i % 1000 * 1.5}
    return json.dumps({**value, "sent_at": time.time()})


def _timeout(n: int) -> float:
    return 120 + n / 200


# -- the platform and the table


def _setup(root: Path, home: StateDir, state: PlatformState, layer: MessageLayer) -> Bench:
    spec = root / "spec"
    (spec / "schemas").mkdir(parents=True)
    (spec / "comind.yaml").write_text(SPEC)
    (spec / "schemas" / "order.json").write_text(json.dumps(ORDER_SCHEMA, indent=2))
    load_spec(spec)  # fails here, not in a worker, when the spec is wrong
    for queue in (QUEUE, flow_dead_letter_queue(FLOW)):
        layer.admin.create(queue, {})
    db = platform_db(home, state)
    ensure_database(db, DATABASE)
    # the bench's own sessions name the table bare, as a DBA does (platform logins search
    # the catalog alone: stores/postgres.py)
    dsn = make_conninfo(db.with_db(DATABASE).conninfo(), options="-c search_path=public")
    bench = Bench(home.root, spec, root / "objects", dsn, platform_redis(home, state).url())
    with psycopg.connect(bench.dsn, autocommit=True) as conn:
        conn.execute(TABLE)
    return bench


def _reset(bench: Bench, platform: psycopg.Connection[Any]) -> None:
    """Empty the table; vacuum the queue table (the previous run left dead rows)."""
    with psycopg.connect(bench.dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE orders")
    platform.execute("VACUUM (ANALYZE) comind.messages")


def _stats(bench: Bench) -> tuple[int, float, float, float, float]:
    """Rows, last commit (epoch s), p50 and p99 latency (s), and the offered rate (rows/s)."""
    with psycopg.connect(bench.dsn) as conn:
        row = conn.execute(STATS).fetchone()
    assert row is not None
    return int(row[0]), float(row[1] or 0), float(row[2] or 0), float(row[3] or 0), row[4] or 0


def _wait_rows(bench: Bench, n: int, alive: Callable[[], None]) -> None:
    began = time.monotonic()
    with psycopg.connect(bench.dsn, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM orders").fetchone()
            done = int(row[0]) if row else 0
            if done >= n:
                return
            alive()
            if time.monotonic() - began > _timeout(n):
                raise TimeoutError(f"only {done} of {n} rows in {_timeout(n):.0f}s")
            time.sleep(0.25)


# -- consumers (each in its own process)


@contextlib.contextmanager
def _flow_engine(bench: Bench) -> Iterator[Callable[[], None]]:
    """One batch of the flow engine per call: ``runner.run_once``."""
    home = StateDir(bench.home)
    state = home.read_state()
    assert state is not None
    target = platform_db(home, state)
    layer = MessageLayer.open(target, max_connections=4)
    engines = FlowEngines(
        layer, target, FileObjectStore(bench.objects), platform_redis(home, state)
    )
    try:
        runner = FlowBuilder(load_spec(bench.spec), bench.spec, engines).runner(FLOW)
        layer.queues.cached(QUEUE)
        engines.database(DATABASE)

        def batch() -> None:
            runner.run_once()

        yield batch
    finally:
        engines.close()
        layer.close()


@contextlib.contextmanager
def _hand_loop(bench: Bench) -> Iterator[Callable[[], None]]:
    """One batch of the hand-written loop per call."""
    home = StateDir(bench.home)
    state = home.read_state()
    assert state is not None
    layer = MessageLayer.open(platform_db(home, state), max_connections=2)
    conn = psycopg.connect(bench.dsn, autocommit=True)
    conn.execute(STAGE)
    validator = validators.validator_for(ORDER_SCHEMA)(ORDER_SCHEMA)
    queues = layer.queues

    def batch() -> None:
        got = queues.lease(QUEUE, limit=LEASE, wait_seconds=1.0)
        if not got:
            return
        rows = []
        for msg in got:
            value = json.loads(msg.body)
            if validator.is_valid(value):
                email = value["email"].strip().lower()
                rows.append((value["id"], email, value["total"], value["sent_at"]))
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy("COPY stage (id, email, total, sent_at) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(MERGE)
        queues.delete_many(QUEUE, [m.receipt_handle for m in got])

    try:
        queues.cached(QUEUE)
        yield batch
    finally:
        conn.close()
        layer.close()


CONSUMERS = {"flow": _flow_engine, "loop": _hand_loop}


def _consume(kind: str, bench: Bench, ready: Any, go: Any, stop: Any, errors: Any) -> None:
    try:
        with CONSUMERS[kind](bench) as batch:
            ready.release()
            go.wait()
            while not stop.is_set():
                batch()
    except BaseException:
        errors.put(traceback.format_exc())
        raise


# -- producers


def _preload(layer: MessageLayer, n: int) -> None:
    for start in range(0, n, PRELOAD_BATCH):
        bodies = [_body(i) for i in range(start, min(start + PRELOAD_BATCH, n))]
        layer.queues.send(QUEUE, [OutgoingMessage(body=b) for b in bodies])


def _paced(bench: Bench, kind: str, m: int, rate: float) -> None:
    """``m`` records at ``rate`` records/s in batches of SEND_BATCH (its own process)."""
    send: Callable[[list[str]], Any]
    if kind == "celery":
        client = Celery("bench", broker=bench.broker)

        def send(bodies: list[str]) -> None:
            for body in bodies:
                client.send_task(CELERY_TASK, args=(body,), queue=CELERY_QUEUE)

    else:
        home = StateDir(bench.home)
        state = home.read_state()
        assert state is not None
        # 2: ``send`` takes a second connection when the queue's cached row expires meanwhile
        layer = MessageLayer.open(platform_db(home, state), max_connections=2)
        layer.queues.cached(QUEUE)

        def send(bodies: list[str]) -> None:
            layer.queues.send(QUEUE, [OutgoingMessage(body=b) for b in bodies])

    began = time.monotonic()
    for start in range(0, m, SEND_BATCH):
        if (wait := began + start / rate - time.monotonic()) > 0:
            time.sleep(wait)
        send([_body(i) for i in range(start, min(start + SEND_BATCH, m))])


def _latency(
    bench: Bench, kind: str, n: int, rate: float, seconds: float, alive: Callable[[], None]
) -> tuple[float, float, float]:
    """Records at ``rate`` for ``seconds`` (at most ``n``): the rate reached, p50, p99."""
    m = max(SEND_BATCH, min(n, int(rate * seconds)))
    producer = multiprocessing.get_context("spawn").Process(
        target=_paced, args=(bench, kind, m, rate)
    )
    producer.start()

    def running() -> None:
        alive()
        if producer.exitcode not in (None, 0):
            raise RuntimeError(f"the producer exited with {producer.exitcode}")

    try:
        _wait_rows(bench, m, running)
    finally:
        producer.join(30)
    _, _, p50, p99, offered = _stats(bench)
    return offered, p50, p99


# -- the systems

Result = tuple[float, float, float, float]  # records/s, latency phase records/s, p50, p99


def queue_system(
    bench: Bench,
    layer: MessageLayer,
    platform: psycopg.Connection[Any],
    kind: str,
    processes: int,
    n: int,
    rate: float | None,
    seconds: float,
) -> Result:
    """records/s draining ``n`` queued records, then latency at ``rate`` (None: half load)."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, stop, errors = ctx.Semaphore(0), ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_consume, args=(kind, bench, ready, go, stop, errors))
        for _ in range(processes)
    ]

    def alive() -> None:
        if not errors.empty() or any(p.exitcode is not None for p in procs):
            detail = errors.get(timeout=5) if not errors.empty() else "exited"
            raise RuntimeError(f"a {kind} consumer failed:\n{detail}")

    for proc in procs:
        proc.start()
    try:
        _preload(layer, n)
        _reset(bench, platform)
        for _ in procs:
            while not ready.acquire(timeout=1):
                alive()
        began = time.time()
        go.set()
        _wait_rows(bench, n, alive)
        drained = n / (_stats(bench)[1] - began)
        _reset(bench, platform)
        latency = _latency(bench, "queue", n, rate or _half(drained), seconds, alive)
    finally:
        stop.set()
        go.set()
        for proc in procs:
            proc.join(15)
            if proc.exitcode is None:
                proc.terminate()
    _reset(bench, platform)
    return drained, *latency


def celery_system(bench: Bench, n: int, rate: float | None, seconds: float) -> Result:
    env = {
        **os.environ,
        "BENCH_CELERY_BROKER": bench.broker,
        "BENCH_FLOW_DSN": bench.dsn,
        "BENCH_FLOW_SCHEMA": str(bench.spec / "schemas" / "order.json"),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    pool = ["--pool", "threads", "-c", "4", "-l", "warning", "-Q", CELERY_IDLE]
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", *pool],
        env=env,
        cwd=Path(__file__).parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Celery("bench", broker=bench.broker)

    def alive() -> None:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}")

    try:
        while not client.control.ping(timeout=0.5):
            alive()
        for i in range(n):  # published while the worker listens on another queue
            client.send_task(CELERY_TASK, args=(_body(i),), queue=CELERY_QUEUE)
        began = time.time()
        client.control.add_consumer(CELERY_QUEUE, reply=True, timeout=5)
        _wait_rows(bench, n, alive)
        drained = n / (_stats(bench)[1] - began)
        with psycopg.connect(bench.dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE orders")
        latency = _latency(bench, "celery", n, rate or _half(drained), seconds, alive)
    finally:
        worker.terminate()
        worker.wait(30)
        client.close()
    return drained, *latency


def _half(drained: float) -> float:
    return min(MAX_RATE, LOAD * drained)


LOOP, ENGINE = "hand-written psycopg loop", "comind flow engine"


def measure(
    records: int = RECORDS, rate: float | None = None, seconds: float = LATENCY_SECONDS
) -> list[Row]:
    """Every system's row; ``rate`` fixes the latency phase's records/s for all of them."""
    root = Path(tempfile.mkdtemp(prefix="comind-flow-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    rows: list[Row] = []
    try:
        home, state = detached_platform(root, "flow-bench")
        layer = MessageLayer.open(platform_db(home, state), max_connections=4)
        platform = psycopg.connect(platform_db(home, state).conninfo(), autocommit=True)
        bench = _setup(root, home, state, layer)
        for processes in (1, 2):
            s = "" if processes == 1 else "es"
            loop, engine = f"{LOOP} ({processes} process{s})", f"{ENGINE} ({processes} process{s})"
            for name, kind in ((loop, "loop"), (engine, "flow")):
                result = queue_system(
                    bench, layer, platform, kind, processes, records, rate, seconds
                )
                _add(rows, Row(name, records, *result, loop))
        capped = min(records, CELERY_CAP)
        celery = f"Celery + Redis (threads, -c 4{'' if capped == records else ', capped'})"
        result = celery_system(bench, capped, rate, seconds)
        _add(rows, Row(celery, capped, *result, f"{LOOP} (1 process)"))
        platform.close()
        layer.close()
    finally:
        subprocess.run(
            [sys.executable, "-m", "comind.cli.main", "--home", str(root / "home"), "down"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
    return rows


def _add(rows: list[Row], row: Row) -> None:
    rows.append(row)
    print(
        f"  {row.system}: {row.rate:,.0f} records/s; at {row.offered:,.0f}/s "
        f"p99 {row.p99 * 1000:.1f} ms",
        flush=True,
    )


def table(rows: list[Row]) -> str:
    rates = {r.system: r.rate for r in rows}
    lines = [
        "| system | records | records/s | p50 e2e latency ms | p99 e2e latency ms | "
        "latency measured at records/s | ratio vs hand-written loop |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r.rate / rates[r.baseline] if rates.get(r.baseline) else 0.0
        lines.append(
            f"| {r.system} | {r.records:,} | {r.rate:,.0f} | {r.p50 * 1000:.1f} | "
            f"{r.p99 * 1000:.1f} | {r.offered:,.0f} | {ratio:.2f}x |"
        )
    engine = next((r for r in rows if r.system.startswith(ENGINE)), None)
    loop = next((r for r in rows if r.system.startswith(LOOP)), None)
    celery = next((r for r in rows if r.system.startswith("Celery")), None)
    if engine and loop and celery:
        lines.append(
            f"\nflow engine (1 process): {engine.rate / loop.rate:.2f}x the hand-written loop "
            f"(target >= 0.5x), {engine.rate / celery.rate:.1f}x Celery (target >= 5x)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS, help="records to drain")
    parser.add_argument(
        "--rate", type=float, help="latency phase records/s for every system (default: half load)"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=LATENCY_SECONDS, help="latency phase length"
    )
    args = parser.parse_args()
    result = measure(args.records, args.rate, args.latency_seconds)
    print(
        f"\nrecords/s: {args.records:,} queued records drained (Celery: at most "
        f"{CELERY_CAP:,}); latency: {args.latency_seconds:.0f} s of records sent at "
        + (f"{args.rate:,.0f}/s\n" if args.rate else "half the system's records/s\n")
    )
    print(table(result))
