"""Lineage impact at depth 20 on a synthetic graph in the platform's PostgreSQL.

The graph: a random DAG of 10,000 datasets and 30,000 edges, stored by the platform's own
``LineageStore.replace``. Edges mostly link a dataset to one of the 400 before it (so paths
run deep), and 20 hub datasets have a fan-in of 50. Each query asks for everything
downstream of one of the first 2,000 datasets within 20 edges.

Compared:

- the platform: ``LineageStore.index().impact`` (one read of the stored version, then a walk
  with a visited set over the adjacency cached per version), in process, and through the
  HTTP API (``GET /api/v1/lineage/impact``) with a viewer token;
- the plain recursive SQL walk (``WITH RECURSIVE ... UNION ALL``), which follows every path;
- the same with ``UNION`` (rows ``(node, depth)`` deduplicated), the usual first fix.

SQL walks run with a statement timeout; a query that hits it counts as timed out. Where a SQL
walk finishes, its answer is checked against the platform's.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

import httpx
from detached import bench_platform

from comind.governance.lineage import LineageGraph, Node
from comind.governance.lineage_store import LineageStore
from comind.platform.local import platform_db
from comind.stores.postgres import DatabaseError, PgTarget, connect, make_pool

DATASETS, EDGES, HUBS, FAN_IN, WINDOW, DEPTH = 10_000, 30_000, 20, 50, 400, 20
ROOTS, SQL_ROOTS, SQL_TIMEOUT_MS = 300, 10, 5_000
WALK = """
WITH RECURSIVE down (id, depth) AS (
    SELECT destination, 1 FROM comind.lineage_edges WHERE origin = %(node)s
    {union}
    SELECT e.destination, d.depth + 1
    FROM down d JOIN comind.lineage_edges e ON e.origin = d.id
    WHERE d.depth < %(depth)s
)
SELECT id, min(depth) FROM down GROUP BY id"""
Row = tuple[str, int, float, float, int]  # what, queries, p50 ms, p99 ms, timed out


def synthetic(seed: int = 16) -> LineageGraph:
    rng = random.Random(seed)
    names = [f"dataset:d{i:05d}" for i in range(DATASETS)]
    edges: set[tuple[str, str]] = set()
    for hub in rng.sample(range(1000, DATASETS), HUBS):
        edges |= {(names[i], names[hub]) for i in rng.sample(range(hub), FAN_IN)}
    while len(edges) < EDGES:
        j = rng.randrange(1, DATASETS)
        edges.add((names[rng.randrange(max(0, j - WINDOW), j)], names[j]))
    nodes = {n: Node(n, "dataset", n.partition(":")[2]) for n in names}
    return LineageGraph(nodes, frozenset(edges), ())


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000


def _timed(call: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    answer = call()
    return time.perf_counter() - began, answer


def measure() -> tuple[list[Row], dict[str, float]]:
    with bench_platform("lineage-bench") as (_, home, state):
        target = platform_db(home, state)
        with make_pool(target, min_size=1, max_size=2) as pool:
            store = LineageStore(pool)
            graph = synthetic()
            stored, _ = _timed(lambda: store.replace(graph, "bench"))
            loaded, _ = _timed(store.index)
            roots = random.Random(7).sample(sorted(graph.nodes)[:2000], ROOTS)
            rows, answers = _platform(store, roots)
            assert state.api_url is not None
            rows.append(_http(state.api_url, home.secret("api-viewer-token"), roots))
            for union in ("UNION ALL", "UNION"):
                rows.append(_sql(target, union, roots[:SQL_ROOTS], answers))
            reached = statistics.mean(len(a) for a in answers.values())
            return rows, {"store_s": stored, "load_s": loaded, "reached": reached}


def _platform(store: LineageStore, roots: list[str]) -> tuple[list[Row], dict[str, set[str]]]:
    samples, answers = [], {}
    for node in roots:
        began = time.perf_counter()
        found = store.index().impact(node, None, DEPTH)
        samples.append(time.perf_counter() - began)
        answers[node] = {n["id"] for n in found}
    return [("platform: version read + walk in memory", len(roots), *_ms(samples), 0)], answers


def _http(url: str, token: str, roots: list[str]) -> Row:
    samples = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for node in roots:
            began = time.perf_counter()
            client.get("/api/v1/lineage/impact", params={"node": node}).raise_for_status()
            samples.append(time.perf_counter() - began)
    return "platform: GET /api/v1/lineage/impact", len(roots), *_ms(samples), 0


def _sql(target: PgTarget, union: str, roots: list[str], answers: dict[str, set[str]]) -> Row:
    samples, timed_out = [], 0
    with connect(target) as conn:
        conn.execute(f"SET statement_timeout = {SQL_TIMEOUT_MS}")
        for node in roots:
            began = time.perf_counter()
            try:
                found = conn.execute(WALK.format(union=union), {"node": node, "depth": DEPTH})
                ids = {r[0] for r in found}
            except DatabaseError:
                timed_out += 1
                samples.append(SQL_TIMEOUT_MS / 1000)
                continue
            samples.append(time.perf_counter() - began)
            assert ids == answers[node], f"{union} disagrees with the platform on {node}"
    return f"recursive SQL ({union})", len(roots), *_ms(samples), timed_out


def table(rows: list[Row], extra: dict[str, float]) -> str:
    lines = ["| walk (depth 20) | queries | p50 ms | p99 ms | timed out (5 s) |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {w} | {n} | {p50:.1f} | {p99:.1f} | {t} |" for w, n, p50, p99, t in rows]
    lines.append(
        f"\nstoring the graph: {extra['store_s']:.2f} s; first load into memory: "
        f"{extra['load_s']:.2f} s; nodes reached per query: {extra['reached']:.0f}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(*measure()))
