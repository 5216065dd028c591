"""What enforcing a dataset's quality rules costs a stream flow.

N JSON orders go through queue → validate → cleanse → PostgreSQL upsert, once into a dataset
without rules and once into a dataset with 10 rules (``not_null`` on three fields, ``unique``,
two ``range`` (one ``warn``), ``accepted``, ``regex``, two ``type``, ``max_length``), which the
dataset gate runs on every record after the steps. Every order passes every rule, so both
flows write the same rows and the difference is the rules' evaluation (and their metrics).

Both flows run in this process, one after the other and then again in the other order, on
the embedded engines of a platform started with ``comind up --detach`` in its own state
directory (a repo declaring nothing, so no worker of its own competes for the 2 cores). For
each run the queue is filled first (untimed), then ``run_once`` drains it; records/s is N over
the time until the queue is empty. The table gives each flow's best of its runs. The issue's
goal: the flow with rules < 15 % slower.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import psycopg
from detached import bench_platform

from comind.flows.build import FlowBuilder, FlowEngines
from comind.platform.local import platform_db, platform_redis
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.spec import load_spec
from comind.spec.names import flow_dead_letter_queue
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import ensure_database

RECORDS = 100_000
ROUNDS = 2
LEASE = 500
DATABASE = "qbench"
RULES = """[
      {not_null: [id, email, total]}, {unique: id}, {range: {total: [0, 100000]}},
      {accepted: {currency: [EUR, USD, GBP]}}, {regex: {email: '^[^@ ]+@[^@ ]+$'}},
      {type: {total: number}}, {type: {id: string}}, {max_length: {email: 254}},
      {max_length: {id: 64}}, {range: {total: [0, 50000]}, severity: warn}]"""
SCHEMA = {
    "type": "object",
    "required": ["id", "email", "total", "currency"],
    "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                   "total": {"type": "number", "minimum": 0},
                   "currency": {"enum": ["EUR", "USD", "GBP"]}},
}  # fmt: skip


def _flow(name: str, dataset: str) -> str:
    return f"""  {name}:
    kind: stream
    source: queue://shop/{name}
    batch: {{size: {LEASE}, max_wait: 0}}
    steps:
      - validate: schemas/order.json
      - cleanse: {{trim: [email], lower: [email]}}
    sink: {{postgres: {dataset}, upsert_on: [id]}}
"""


SPEC = f"""\
platform: {{name: quality-bench}}
apps:
  shop:
    run: "true"
    database: {{name: {DATABASE}}}
    queues: {{plain: {{}}, ruled: {{}}}}
datasets:
  shop.plain_orders: {{store: postgres://shop/plain_orders, schema: schemas/order.json}}
  shop.ruled_orders:
    store: postgres://shop/ruled_orders
    schema: schemas/order.json
    quality: {RULES}
flows:
{_flow("plain", "shop.plain_orders")}{_flow("ruled", "shop.ruled_orders")}"""


@dataclass(frozen=True)
class Row:
    flow: str
    records: int
    rate: float  # records/s, best of the rounds


def _body(i: int) -> str:
    currency = ("EUR", "USD", "GBP")[i % 3]
    return json.dumps({"id": f"o{i}", "email": f"  User{i}@Example.COM ",
                       "total": i % 1000 * 1.5, "currency": currency})  # fmt: skip


def _fill(layer: MessageLayer, queue: str, n: int) -> None:
    for start in range(0, n, LEASE):
        batch = [OutgoingMessage(_body(i)) for i in range(start, min(n, start + LEASE))]
        layer.queues.send(queue, batch)


def _drain(builder: FlowBuilder, layer: MessageLayer, flow: str, n: int, dsn: str) -> float:
    """records/s of one run of ``flow`` over ``n`` queued orders into an empty table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {flow}_orders")
    _fill(layer, f"shop/{flow}", n)
    runner = builder.runner(flow)
    began, written = time.perf_counter(), 0
    while written < n:
        outcome = runner.run_once()
        written += outcome.written
        if outcome.quarantined or outcome.failed:
            raise RuntimeError(f"{flow}: an order was refused: {outcome.quarantined[:1]}")
    return n / (time.perf_counter() - began)


def measure(records: int = RECORDS, rounds: int = ROUNDS) -> list[Row]:
    with bench_platform("quality-bench") as (root, home, state):
        target = platform_db(home, state)
        spec = root / "spec"
        (spec / "schemas").mkdir(parents=True)
        (spec / "comind.yaml").write_text(SPEC)
        (spec / "schemas" / "order.json").write_text(json.dumps(SCHEMA))
        ensure_database(target, DATABASE)
        layer = MessageLayer.open(target, max_connections=4)
        for flow in ("plain", "ruled"):
            for queue in (f"shop/{flow}", flow_dead_letter_queue(flow)):
                layer.admin.create(queue, {})
        engines = FlowEngines(layer, target, FileObjectStore(root / "objects"),
                              platform_redis(home, state))  # fmt: skip
        builder = FlowBuilder(load_spec(spec), spec, engines)
        dsn = target.with_db(DATABASE).conninfo()
        best = {"plain": 0.0, "ruled": 0.0}
        for i in range(rounds):
            for flow in ("plain", "ruled") if i % 2 == 0 else ("ruled", "plain"):
                best[flow] = max(best[flow], _drain(builder, layer, flow, records, dsn))
        engines.close()
        layer.close()
    return [Row("without rules", records, best["plain"]),
            Row("with 10 rules (dataset gate)", records, best["ruled"])]  # fmt: skip


def table(rows: list[Row]) -> str:
    base = rows[0].rate
    lines = ["| flow | records | records/s | vs without rules |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.flow} | {r.records:,} | {r.rate:,.0f} | {r.rate / base - 1:+.1%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print(table(measure(args.records, args.rounds)))
