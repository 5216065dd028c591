"""Scale-out of one stream flow: 1, 2 and 4 worker processes on shared engines (issue 19).

The platform runs in cluster mode's shape: on a PostgreSQL and a Redis it did not start
(``COMIND_POSTGRES_URL``, ``COMIND_REDIS_URL``; here a second PostgreSQL and Redis started by
the project's own embedded code, as a managed service would be), and N worker processes
consume the flow of ``bench/flow_throughput.py`` (queue → validate → cleanse → PostgreSQL
upsert) with nothing shared but the engines. Each row drains the same number of queued
records; the peer in the same run is the hand-written psycopg loop with as many processes
(the practical limit of the same work). Latency: records sent at half the drained rate for
a few seconds, send to commit. The machine's cores bound the speed-up: the workers, the
servers and the producer share them, so read the 2- and 4-process rows as what a bigger
machine's engines would have to absorb, not as the speed-up of more hosts.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from detached import detached_platform
from flow_throughput import ENGINE, LOOP, Row, _setup, queue_system

from comind.embedded.home import StateDir
from comind.embedded.postgres import PostgresEngine
from comind.embedded.redis import RedisEngine
from comind.embedded.settings import Settings
from comind.embedded.state import PlatformState
from comind.platform.local import platform_db
from comind.queue.layer import MessageLayer

RECORDS = 50_000
LATENCY_SECONDS = 5.0
PROCESSES = (1, 2, 4)


@contextlib.contextmanager
def managed_engines(root: Path) -> Iterator[dict[str, str]]:
    """A PostgreSQL and a Redis the platform does not start: their URLs as its environment."""
    home = StateDir(root / "managed")
    home.create()
    settings = Settings(home=home.root, wal_archive=False)
    postgres, cache = PostgresEngine(home, settings), RedisEngine(home, settings)
    postgres.start()
    cache.start()
    try:
        yield {
            "COMIND_POSTGRES_URL": f"postgresql://postgres:{postgres.password}@{postgres.host}:"
                                   f"{postgres.port}/postgres",
            "COMIND_REDIS_URL": f"redis://default:{cache.password}@{cache.host}:{cache.port}",
        }  # fmt: skip
    finally:
        cache.stop()
        postgres.stop()


def measure(records: int, seconds: float) -> list[Row]:
    root = Path(tempfile.mkdtemp(prefix="comind-scale-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    try:
        with managed_engines(root) as urls:
            home, state = detached_platform(root, "scale-bench", urls)
            try:
                return _rows(home, state, root, records, seconds)
            finally:  # whatever failed: the platform stops before its engines do
                subprocess.run([sys.executable, "-m", "comind.cli.main", "--home",
                                str(home.root), "down"], capture_output=True)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _rows(home: StateDir, state: PlatformState, root: Path, records: int,
          seconds: float) -> list[Row]:  # fmt: skip
    target = platform_db(home, state)
    layer = MessageLayer.open(target, max_connections=4)
    platform = psycopg.connect(target.conninfo(), autocommit=True)
    rows: list[Row] = []
    try:
        bench = _setup(root, home, state, layer)
        for processes in PROCESSES:
            s = "" if processes == 1 else "es"
            for system, kind in ((LOOP, "loop"), (ENGINE, "flow")):
                result = queue_system(bench, layer, platform, kind, processes, records, None,
                                      seconds)  # fmt: skip
                row = Row(f"{system} ({processes} process{s})", records, *result,
                          f"{LOOP} ({processes} process{s})")  # fmt: skip
                rows.append(row)
                print(f"  {row.system}: {row.rate:,.0f} records/s", flush=True)
    finally:
        platform.close()
        layer.close()
    return rows


def table(rows: list[Row]) -> str:
    rates = {r.system: r.rate for r in rows}
    one = next(r.rate for r in rows if r.system == f"{ENGINE} (1 process)")
    lines = ["| system | records/s | speed-up vs 1 process | ratio vs loop, same processes | "
             "p50 e2e ms | p99 e2e ms | at records/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        first = rates.get(r.system.split(" (")[0] + " (1 process)", 0.0)
        lines.append(
            f"| {r.system} | {r.rate:,.0f} | {r.rate / first if first else 0:.2f}x | "
            f"{r.rate / rates[r.baseline] if rates.get(r.baseline) else 0:.2f}x | "
            f"{r.p50 * 1000:.1f} | {r.p99 * 1000:.1f} | {r.offered:,.0f} |"
        )
    lines.append(f"\nflow engine, 1 process: {one:,.0f} records/s")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS, help="records each row drains")
    parser.add_argument("--latency-seconds", type=float, default=LATENCY_SECONDS)
    args = parser.parse_args()
    print(table(measure(args.records, args.latency_seconds)))
