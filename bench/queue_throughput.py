"""Queue throughput and end-to-end latency: this project's backends against its peers.

Each system gets N messages from one producer while one consumer processes them
concurrently (send, receive, delete/ack); throughput is N over the time from the first
send to the last message done, latency is processing time minus send time per message.
All systems run on this machine, against the same embedded PostgreSQL and Redis of a
platform started with ``comind up --detach`` in its own process:

- comind postgres (Python API): ``send`` / ``receive`` / ``delete_many`` in batches.
- comind SQS endpoint (boto3): ``send_message(_batch)``, ``receive_message``,
  ``delete_message(_batch)``, SigV4-signed, over HTTP.
- procrastinate 3 on the same PostgreSQL: ``defer`` / ``batch_defer``, worker concurrency 10.
- Celery 5 with the Redis broker, ``--pool threads -c 4``; Celery has no batch publish, so
  "batch 10" is ten ``apply_async`` calls back to back.

The SQS endpoint is also driven by several client processes at once (boto3 costs about a
millisecond of CPU per call, so one Python process cannot load the server), and
``endpoint_cost`` splits one call's CPU between the boto3 client, the platform process and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import redis

from comind.embedded.home import StateDir
from comind.embedded.state import PlatformState
from comind.platform.local import platform_db, platform_redis
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.stores.postgres import ensure_database

SHOP = Path(__file__).resolve().parents[1] / "examples" / "shop"

Result = tuple[float, list[float]]  # (messages/s, latencies in s)
Cost = tuple[str, float, float, float, float]  # call, wall, client, platform, postgres CPU (s)
PROCESSES = 4
TIMEOUT = 180.0


def _body() -> str:
    return json.dumps({"t": time.time()})


def _run(n: int, produce: Callable[[], None], done: Callable[[], int]) -> float:
    began = time.perf_counter()
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    while done() < n:
        if time.perf_counter() - began > TIMEOUT:
            raise TimeoutError(f"only {done()} of {n} messages done in {TIMEOUT}s")
        time.sleep(0.005)
    producer.join()
    return n / (time.perf_counter() - began)


def comind_python(layer: MessageLayer, n: int, batch: int) -> Result:
    queue = f"bench/py{batch}"
    layer.admin.create(queue)
    latencies: list[float] = []

    def produce() -> None:
        for _ in range(0, n, batch):
            layer.queues.send(queue, [OutgoingMessage(body=_body()) for _ in range(batch)])

    def consume() -> None:
        while len(latencies) < n:
            got = layer.queues.receive(queue, max_messages=batch, wait_seconds=1)
            if got:
                now = time.time()
                layer.queues.delete_many(queue, [m.receipt_handle for m in got])
                latencies.extend(now - json.loads(m.body)["t"] for m in got)

    consumer = threading.Thread(target=consume)
    consumer.start()
    rate = _run(n, produce, lambda: len(latencies))
    consumer.join()
    return rate, latencies


def comind_sqs(client: Any, n: int, batch: int) -> Result:
    url = client.create_queue(QueueName=f"sqs{batch}")["QueueUrl"]
    latencies: list[float] = []

    def produce() -> None:
        for _ in range(0, n, batch):
            if batch == 1:
                client.send_message(QueueUrl=url, MessageBody=_body())
            else:
                client.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "MessageBody": _body()} for i in range(batch)],
                )

    def consume() -> None:
        while len(latencies) < n:
            got = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=batch, WaitTimeSeconds=1
            ).get("Messages", [])
            if not got:
                continue
            now = time.time()
            if batch == 1:
                client.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
            else:
                client.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got)
                    ],
                )
            latencies.extend(now - json.loads(m["Body"])["t"] for m in got)

    consumer = threading.Thread(target=consume)
    consumer.start()
    rate = _run(n, produce, lambda: len(latencies))
    consumer.join()
    return rate, latencies


def _sqs_client(creds: dict[str, str]) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=creds["AWS_ENDPOINT_URL_SQS"],
        region_name="us-east-1",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
    )


def _sqs_producer(creds: dict[str, str], url: str, n: int) -> None:
    client = _sqs_client(creds)
    for _ in range(0, n, 10):
        entries = [{"Id": str(i), "MessageBody": _body()} for i in range(10)]
        client.send_message_batch(QueueUrl=url, Entries=entries)


def _sqs_consumer(creds: dict[str, str], url: str, done: Any, n: int, out: Any) -> None:
    client = _sqs_client(creds)
    latencies: list[float] = []
    while done.value < n:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not got:
            continue
        now = time.time()
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        client.delete_message_batch(QueueUrl=url, Entries=entries)
        latencies.extend(now - json.loads(m["Body"])["t"] for m in got)
        with done.get_lock():
            done.value += len(got)
    out.put(latencies)


def comind_sqs_processes(creds: dict[str, str], n: int, processes: int) -> Result:
    """``processes`` producer and as many consumer processes, batch 10, one queue."""
    url = _sqs_client(creds).create_queue(QueueName=f"sqs-procs{processes}")["QueueUrl"]
    done, out = multiprocessing.Value("i", 0), multiprocessing.Queue()
    consumers = [
        multiprocessing.Process(target=_sqs_consumer, args=(creds, url, done, n, out))
        for _ in range(processes)
    ]
    producers = [
        multiprocessing.Process(target=_sqs_producer, args=(creds, url, n // processes))
        for _ in range(processes)
    ]
    for proc in consumers:
        proc.start()
    time.sleep(2)  # consumers up (imports, clients) before the clock starts
    rate = _run(n, lambda: [p.start() for p in producers], lambda: int(done.value))
    latencies = [x for _ in consumers for x in out.get(timeout=TIMEOUT)]
    for proc in (*producers, *consumers):
        proc.join(TIMEOUT)
    return rate, latencies


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(root: int) -> float:
    """CPU of ``root`` and its children (PostgreSQL's backends are the postmaster's)."""
    total = _cpu_seconds(root)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                total += _cpu_seconds(int(stat.parent.name))
    return total


def endpoint_cost(creds: dict[str, str], state: PlatformState, calls: int = 300) -> list[Cost]:
    """Per call, sequentially: wall time and the CPU of client, platform and PostgreSQL."""
    client = _sqs_client(creds)
    url = client.create_queue(QueueName="sqs-cost")["QueueUrl"]
    platform, postgres = int(state.pid or 0), int(state.engines["postgres"].pid or 0)
    handles: list[list[dict[str, str]]] = []

    def send() -> None:
        entries = [{"Id": str(i), "MessageBody": _body()} for i in range(10)]
        client.send_message_batch(QueueUrl=url, Entries=entries)

    def receive() -> None:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        handles.append(
            [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )

    def delete() -> None:
        client.delete_message_batch(QueueUrl=url, Entries=handles.pop())

    rows = []
    for name, call in (("SendMessageBatch (10)", send), ("ReceiveMessage (10)", receive),
                       ("DeleteMessageBatch (10)", delete)):  # fmt: skip
        before = (time.perf_counter(), time.process_time(),
                  _cpu_seconds(platform), _tree_cpu_seconds(postgres))  # fmt: skip
        for _ in range(calls):
            call()
        after = (time.perf_counter(), time.process_time(),
                 _cpu_seconds(platform), _tree_cpu_seconds(postgres))  # fmt: skip
        rows.append((name, *[(a - b) / calls for a, b in zip(after, before, strict=True)]))
    return rows


def procrastinate_run(conninfo: str, n: int, batch: int) -> Result:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    latencies: list[float] = []
    queue = f"bench{batch}"

    @app.task(name=f"bench_{batch}", queue=queue)
    async def record(t: float) -> None:
        latencies.append(time.time() - t)

    async def main() -> float:
        async with app.open_async():
            if batch == 1:
                await app.schema_manager.apply_schema_async()
            worker = asyncio.create_task(
                app.run_worker_async(
                    queues=[queue], concurrency=10, wait=True, install_signal_handlers=False
                )
            )
            began = time.perf_counter()
            for _ in range(0, n, batch):
                if batch == 1:
                    await record.defer_async(t=time.time())
                else:
                    await record.batch_defer_async(*[{"t": time.time()} for _ in range(batch)])
            while len(latencies) < n:
                if time.perf_counter() - began > TIMEOUT:
                    raise TimeoutError(f"only {len(latencies)} of {n} done in {TIMEOUT}s")
                await asyncio.sleep(0.005)
            rate = n / (time.perf_counter() - began)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            return rate

    return asyncio.run(main()), latencies


def celery_run(broker: str, n: int, batch: int) -> Result:
    store = redis.Redis.from_url(broker)
    store.delete("bench:latency")
    env = {**os.environ, "BENCH_CELERY_BROKER": broker, "PYTHONPATH": str(Path(__file__).parent)}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            "--pool",
            "threads",
            "-c",
            "4",
            "-l",
            "warning",
            "-Q",
            "celery",
        ],
        env=env,
        cwd=Path(__file__).parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ["BENCH_CELERY_BROKER"] = broker
    import celery_app

    celery_app.record.delay(time.time())  # warm-up: wait until the worker consumes
    while store.llen("bench:latency") < 1:
        time.sleep(0.05)
    store.delete("bench:latency")

    def produce() -> None:
        for _ in range(n):
            celery_app.record.apply_async(args=(time.time(),))

    try:
        rate = _run(n, produce, lambda: int(store.llen("bench:latency")))
    finally:
        worker.terminate()
        worker.wait(30)
    return rate, [float(x) for x in store.lrange("bench:latency", 0, -1)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def _platform(root: Path) -> tuple[StateDir, PlatformState]:
    """``comind up --detach`` in its own process, as users run it (no shared GIL with us)."""
    cmd = [sys.executable, "-m", "comind.cli.main", "--home", str(root)]
    subprocess.run(
        [*cmd, "up", "--detach", "--api-port", "0", "--repo", str(SHOP)],
        check=True,
        capture_output=True,
    )
    home = StateDir(root)
    state = home.read_state()
    assert state is not None
    return home, state


Row = tuple[str, int, float, float, float]  # system, batch, msg/s, p50 s, p99 s


def _app_env(home: StateDir, app: str) -> dict[str, str]:
    cmd = [sys.executable, "-m", "comind.cli.main", "--home", str(home.root), "app", "env", app]
    out = subprocess.run([*cmd, "--json"], check=True, capture_output=True, text=True).stdout
    env: dict[str, str] = json.loads(out)["env"]
    return env


def measure(n1: int = 2000, n10: int = 10000) -> tuple[list[Row], list[Cost]]:
    root = Path(tempfile.mkdtemp(prefix="comind-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    rows: list[Row] = []
    try:
        home, state = _platform(root / "home")
        creds = _app_env(home, "orders")
        sqs = _sqs_client(creds)
        db = platform_db(home, state)
        messages = MessageLayer.open(db, max_connections=8)
        admin = db.with_db("postgres")
        ensure_database(admin, "procrastinate_bench")
        conninfo = admin.with_db("procrastinate_bench").conninfo()
        broker = platform_redis(home, state).url()
        systems: list[tuple[str, Callable[[int, int], Result]]] = [
            ("comind postgres (Python API)", lambda n, b: comind_python(messages, n, b)),
            ("comind SQS endpoint (boto3)", lambda n, b: comind_sqs(sqs, n, b)),
            ("procrastinate (same PostgreSQL)", lambda n, b: procrastinate_run(conninfo, n, b)),
            ("Celery + Redis", lambda n, b: celery_run(broker, n, b)),
        ]
        for name, fn in systems:
            for batch, n in ((1, n1), (10, n10)):
                _add(rows, name, batch, fn(n, batch))
            if name.startswith("comind SQS"):
                name = f"comind SQS endpoint (boto3, {PROCESSES}+{PROCESSES} processes)"
                _add(rows, name, 10, comind_sqs_processes(creds, n10, PROCESSES))
        costs = endpoint_cost(creds, state)
        messages.close()
    finally:
        subprocess.run(
            [sys.executable, "-m", "comind.cli.main", "--home", str(root / "home"), "down"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
    return rows, costs


def _add(rows: list[Row], name: str, batch: int, result: Result) -> None:
    rate, latencies = result
    rows.append((name, batch, rate, percentile(latencies, 0.5), percentile(latencies, 0.99)))
    print(f"  {name}, batch {batch}: {rate:,.0f} msg/s", flush=True)


def cost_table(costs: list[Cost]) -> str:
    lines = [
        "| call (sequential) | wall ms | boto3 client CPU ms | platform CPU ms | "
        "PostgreSQL CPU ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, wall, client, platform, postgres in costs:
        lines.append(
            f"| {name} | {wall * 1000:.2f} | {client * 1000:.2f} | {platform * 1000:.2f} | "
            f"{postgres * 1000:.2f} |"
        )
    return "\n".join(lines)


def table(rows: list[Row]) -> str:
    lines = [
        "| system | batch | msg/s | p50 latency ms | p99 latency ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, batch, rate, p50, p99 in rows:
        lines.append(f"| {name} | {batch} | {rate:,.0f} | {p50 * 1000:.1f} | {p99 * 1000:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:3]] or [2000, 10000]
    rows, costs = measure(*sizes)
    print(table(rows))
    print()
    print(cost_table(costs))
