"""The SDK's query cache on the example's read endpoint, and what cache-aside costs on a miss.

Platform: ``comind up --detach`` on a copy of the example (free ports). The orders app's
``/tiers`` reads ``SELECT tier, count(*) FROM customers GROUP BY tier`` through
``sdk.QueryCache`` (Redis until the table is written); ``/tiers/direct`` runs the same query
on PostgreSQL every time: the same app, pool and HTTP server, under the same load (``wrk``,
one thread, 20 connections, 15 s each, on the same 2 cores). Then, in this process, against
the same engines: a direct query against ``Cache.get_or_set`` of a key never cached (the
miss path: GET, the single-flight lock, the query, SET, the lock's release, the counts).
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).parent))

from api import Row, measure_one

from comind.embedded.ports import free_port
from comind.sdk import Cache

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"
QUERY = "SELECT tier, count(*) FROM customers GROUP BY tier ORDER BY tier"
MISSES = 2000
BIG = 300_000


def measure() -> tuple[list[Row], dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="comind-bench-cache-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)  # the engines and the apps run as other users as root
        repo = root / "repo"
        shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".comind", "__pycache__"))
        spec = (repo / "comind.yaml").read_text()
        port = free_port("127.0.0.1")
        for fixed in ("8101", "8102", "8103"):
            spec = spec.replace(f"port: {fixed}", f"port: {free_port('127.0.0.1')}")
        spec = re.sub(r"(orders:.*?port: )\d+", rf"\g<1>{port}", spec, count=1, flags=re.S)
        (repo / "comind.yaml").write_text(spec)
        cmd = [sys.executable, "-m", "comind.cli.main", "--home", str(root / "home")]
        subprocess.run([*cmd, "up", "--detach", "--api-port", "0", "--repo", str(repo)],
                       check=True, capture_output=True, timeout=900)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(f"{url}/tiers")
            rows = _endpoints(url, "100 customers")
            _grow(root / "home")  # a customers table of a real shop, written: recomputed
            rows += _endpoints(url, f"{BIG:,} customers")
            return rows, _miss_cost(root / "home")
        finally:
            subprocess.run([*cmd, "down"], capture_output=True, timeout=300)


def _endpoints(url: str, size: str) -> list[Row]:
    cached = measure_one(f"query cache, {size}", "GET /tiers", f"{url}/tiers", {})
    direct = measure_one(f"PostgreSQL, {size}", "GET /tiers/direct", f"{url}/tiers/direct", {})
    return [cached, direct]


def _grow(home: Path) -> None:
    with _orders_db(home) as conn:
        conn.execute("INSERT INTO customers SELECT i, 'customer ' || i, "
                     "(ARRAY['free', 'silver', 'gold'])[1 + i %% 3], 'NL' "
                     "FROM generate_series(101, %s) AS i", (BIG,))  # fmt: skip
        conn.execute("ANALYZE customers")


def _orders_db(home: Path) -> psycopg.Connection[Any]:
    state = json.loads((home / "state.json").read_text())
    host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
    secret = (home / "secrets" / "postgres-password").read_text().strip()
    return psycopg.connect(host=host, port=port, user="postgres", password=secret,
                           dbname="orders", autocommit=True)  # fmt: skip


def _wait_ready(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} never answered")


def _miss_cost(home: Path) -> dict[str, float]:
    """µs per call: the direct query, and get_or_set of keys never cached (the same query)."""
    state = json.loads((home / "state.json").read_text())
    r_host, r_port = state["engines"]["redis"]["address"].rsplit(":", 1)
    cache = Cache(redis.Redis(host=r_host, port=int(r_port), decode_responses=True,
                              password=(home / "secrets" / "redis-password").read_text().strip()),
                  prefix="bench:", ttl=60)  # fmt: skip
    with _orders_db(home) as conn:
        conn.execute("DELETE FROM customers WHERE id > 100")  # the example's table again
        direct = _per_call(lambda n: conn.execute(QUERY).fetchall())
        missed = _per_call(lambda n: cache.get_or_set(f"miss:{n}", lambda: [
            list(r) for r in conn.execute(QUERY).fetchall()]))  # fmt: skip
        hit = _per_call(lambda n: cache.get_or_set("miss:0", lambda: []))
    return {"direct query": direct, "cache miss (query + cache-aside)": missed,
            "cache hit": hit}  # fmt: skip


def _per_call(call: Callable[[int], object]) -> float:
    times = []
    for n in range(MISSES):
        start = time.perf_counter()
        call(n)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def table(rows: list[Row], costs: dict[str, float]) -> str:
    lines = ["| endpoint | answered by | requests/s | p50 ms | p99 ms | errors |",
             "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r.endpoint} | {r.system} | {r.per_second:,.0f} | {r.p50_ms:.2f} | "
                     f"{r.p99_ms:.2f} | {r.errors} |")  # fmt: skip
    lines += ["", "| call (median of 2,000) | µs |", "|---|---:|"]
    lines += [f"| {name} | {us:,.0f} |" for name, us in costs.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(*measure()))
