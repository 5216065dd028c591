"""What row security costs a flow's queue work (red team 21f H1, migration 0028).

A flow's workers use the platform database with a login of their own that row security
keeps to the queues and flow rows the flow declares. This measures the queue hot path
through that login against the same work as the platform's superuser (which row security
passes by), on one detached platform (``comind up --detach``) with other queues and other
flows' grants in place, so the policies' look-ups are not trivially small:

- send: ``send`` of batches of 500 (one ``send_many`` statement each) to the flow's sink
  queue, checked by the ``send`` policy (the queue, and since migration 0030 the values),
  then read back by the ``sent_now`` one.
- receive + delete: ``lease`` 500, then ``delete_many`` the same batch, from its source
  queue (the ``receive`` policy on the picking, leasing and deleting statements).

Each phase moves N messages (default 50,000) and is run three times, alternating the two
logins; the median is reported. Run: ``.venv/bin/python bench/worker_rows.py [-n N]``.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable

from detached import bench_platform

from comind.platform.local import platform_db
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.stores.pg_admin import PgAdmin
from comind.stores.platform_db import WorkerRows, ensure_worker_group, ensure_worker_login
from comind.stores.postgres import PgTarget, make_pool

BATCH = 500
SOURCE, SINK = "bench/in", "bench/out"
OTHERS = 200  # other queues, each another flow's, holding a few messages


def _prepare(layer: MessageLayer, admin: PgAdmin) -> PgTarget:
    """Queues, other flows' logins and the measured flow's login (returned)."""
    ensure_worker_group(admin)
    for i in range(OTHERS):
        queue = f"other/q{i}"
        layer.admin.create(queue, {})
        layer.queues.send(queue, [OutgoingMessage(f"other {j}") for j in range(5)])
        ensure_worker_login(admin, f"comind_fw_other{i}", secrets.token_urlsafe(16),
                            WorkerRows(flow=(f"other{i}",), receive=(queue,)))  # fmt: skip
    for queue in (SOURCE, SINK):
        layer.admin.create(queue, {})
    rows = WorkerRows(flow=("bench",), receive=(SOURCE,), send=(SINK,))
    return ensure_worker_login(admin, "comind_fw_bench", secrets.token_urlsafe(16), rows)


def _send(queues: PostgresQueues, n: int) -> float:
    began = time.perf_counter()
    for start in range(0, n, BATCH):
        queues.send(SINK, [OutgoingMessage(f"m{i}") for i in range(start, start + BATCH)])
    return n / (time.perf_counter() - began)


def _drain(queues: PostgresQueues, n: int) -> float:
    began, done = time.perf_counter(), 0
    while done < n:
        got = queues.lease(SOURCE, limit=BATCH, visibility_timeout=60)
        if not got:
            raise RuntimeError(f"the source ran dry after {done} of {n}")
        queues.delete_many(SOURCE, [m.receipt_handle for m in got])
        done += len(got)
    return n / (time.perf_counter() - began)


def _fill(platform: PostgresQueues, n: int) -> None:
    for start in range(0, n, BATCH):
        platform.send(SOURCE, [OutgoingMessage(f"m{i}") for i in range(start, start + BATCH)])


def _reset(target: PgTarget) -> None:
    """Empty the sink, vacuum the queue table (the previous round left dead rows)."""
    pool = make_pool(target, max_size=1)
    with pool.connection() as conn:
        conn.execute("DELETE FROM comind.messages WHERE queue_id = "
                     "(SELECT id FROM comind.queues WHERE name = %s)", (SINK,))  # fmt: skip
        conn.execute("VACUUM (ANALYZE) comind.messages")
    pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=50_000, help="messages per phase")
    n = parser.parse_args().n
    with bench_platform("rows") as (_, home, state):
        target = platform_db(home, state)
        layer, admin = MessageLayer.open(target, max_connections=2), PgAdmin(target)
        flow = _prepare(layer, admin)
        flow_pool = make_pool(flow, max_size=2)
        logins = {"superuser (no row security)": layer.queues,
                  "flow login (row-secured)": PostgresQueues(flow_pool)}  # fmt: skip
        results: dict[tuple[str, str], list[float]] = {}
        phases: dict[str, Callable[[PostgresQueues, int], float]] = {
            "send 500/batch": _send, "lease + delete 500/batch": _drain}  # fmt: skip
        for _ in range(3):
            for who, queues in logins.items():
                _reset(target)
                _fill(layer.queues, n)
                for phase, run in phases.items():
                    results.setdefault((phase, who), []).append(run(queues, n))
        flow_pool.close()
        admin.close()
        layer.close()
    print("| phase | login | messages/s (median of 3) | ratio vs superuser |\n|---|---|---:|---:|")
    for phase in phases:
        base = statistics.median(results[(phase, next(iter(logins)))])
        for who in logins:
            rate = statistics.median(results[(phase, who)])
            print(f"| {phase} | {who} | {rate:,.0f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
