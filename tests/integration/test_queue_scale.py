"""Receive stays an index range scan with many messages waiting (O(log n), not a table scan)."""

from __future__ import annotations

import json

import pytest

from comind.queue.layer import MessageLayer
from comind.queue.postgres_delivery import receive_sql
from comind.stores.postgres import PgTarget, connect

pytestmark = pytest.mark.slow
WAITING = 200_000


def test_receive_uses_the_ready_index_with_many_messages_waiting(pg: PgTarget) -> None:
    layer = MessageLayer.open(pg, max_connections=2)
    try:
        layer.admin.create("scale/jobs")
        layer.admin.create("scale/other")
        q = layer.queues.queue("scale/jobs")
        with connect(pg) as conn:
            conn.execute(
                "INSERT INTO comind.messages (queue_id, message_id, body, expires_at) "
                "SELECT %s, gen_random_uuid(), 'm' || g, now() + interval '1 day' "
                "FROM generate_series(1, %s) g",
                (q.id, WAITING),
            )
            conn.execute("ANALYZE comind.messages")
            args = {
                "queue_id": q.id, "limit": 10, "visibility": 30, "source": q.name,
                "max_receive_count": 5, "dlq_id": None, "dlq_retention": 60,
            }  # fmt: skip
            plan = conn.execute("EXPLAIN (FORMAT JSON) " + receive_sql(fifo=False), args).fetchone()
        assert plan is not None
        text = json.dumps(plan[0])
        assert "messages_ready" in text
        assert '"Seq Scan"' not in text
        got = layer.queues.receive("scale/jobs", max_messages=10)
        assert [m.body for m in got] == [f"m{i}" for i in range(1, 11)]
    finally:
        layer.close()
