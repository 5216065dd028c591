"""Red team 21f H1: every flow's workers shared one platform-database login with no row
filter, so a flow's code could read, forge or delete the messages of any app's queues and
change other flows' runs, cursors and quarantine. Each flow now logs in as its own member of
the workers' group, and row security (migration 0028) keeps it to the rows its spec names:
its own flow rows, the queues it receives from, the queues and topics it sends to (which it
may write, never read back beyond what it sent itself)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from provisioned import Provisioned, provisioned

from comind.gitops.providers.flow_access import WORKER_POOL
from comind.platform import Platform
from comind.platform.worker import WorkerLogins
from comind.queue.model import OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_admin import PostgresQueueAdmin
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.platform_db import end_worker_locks
from comind.stores.postgres import Connection, PgTarget, connect, make_pool

MOVER, OTHER = "mover", "other-flow"


@dataclass
class Shop:
    app: str
    topic: str
    found: Provisioned
    platform: PostgresQueues  # the platform's own view (superuser)
    mover: PostgresQueues  # the mover flow's, through its workers' login
    mover_db: PgTarget

    def queue(self, name: str) -> str:
        return f"{self.app}/{name}"

    def count(self, name: str) -> int:
        with self.platform.pool.connection() as conn:
            return _count(conn, self.queue(name))


def _count(conn: Connection, queue: str) -> int:
    row = conn.execute("SELECT count(*) FROM comind.messages m JOIN comind.queues q "
                       "ON q.id = m.queue_id WHERE q.name = %s", (queue,)).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


@pytest.fixture
def shop(runtime: Platform, tmp_path: Path) -> Iterator[Shop]:
    app, topic = f"p{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}"
    (tmp_path / "comind.yaml").write_text(textwrap.dedent(f"""
        platform: {{name: p}}
        apps:
          {app}:
            run: "true"
            queues: {{jobs: {{}}, out: {{}}, inbox: {{}}, private: {{}}}}
        topics:
          {topic}: {{subscribers: [{app}/inbox]}}
        flows:
          {MOVER}:
            kind: stream
            source: queue://{app}/jobs
            sinks: {{q: {{queue: {app}/out}}, t: {{topic: {topic}}}}}
          {OTHER}:
            kind: stream
            source: queue://{app}/private
            sink: {{queue: {app}/out}}
        """))  # fmt: skip
    assert runtime.db is not None
    platform_pool = make_pool(runtime.db, max_size=2)
    platform = PostgresQueues(platform_pool)
    admin, topics = PostgresQueueAdmin(platform), PostgresTopics(platform)
    for name in ("jobs", "out", "inbox", "private"):
        admin.create(f"{app}/{name}")
    topics.create(topic)
    topics.subscribe(topic, f"{app}/inbox")
    try:
        with provisioned(runtime, tmp_path) as found:
            logins = WorkerLogins.from_env(found.worker_env(MOVER))
            target = runtime.db.login(logins.worker_user, logins.worker_password)
            pool = make_pool(target, max_size=2)
            try:
                yield Shop(app, topic, found, platform, PostgresQueues(pool), target)
            finally:
                pool.close()
    finally:
        topics.delete(topic)
        for name in ("jobs", "out", "inbox", "private"):
            admin.delete(f"{app}/{name}")
        platform_pool.close()


def _send(queues: PostgresQueues, queue: str, body: str) -> None:
    queues.send(queue, [OutgoingMessage(body)])


def test_a_flow_receives_from_its_source_and_from_no_other_queue(shop: Shop) -> None:
    _send(shop.platform, shop.queue("jobs"), "job")
    _send(shop.platform, shop.queue("private"), "someone else's")
    got = shop.mover.lease(shop.queue("jobs"), limit=10)
    assert [m.body for m in got] == ["job"]
    shop.mover.delete_many(shop.queue("jobs"), [m.receipt_handle for m in got])
    assert shop.count("jobs") == 0
    assert shop.mover.lease(shop.queue("private"), limit=10) == []
    with connect(shop.mover_db) as conn:
        assert _count(conn, shop.queue("private")) == 0  # not even seen
        assert conn.execute("DELETE FROM comind.messages").rowcount == 0
        assert conn.execute("UPDATE comind.messages SET body = 'x'").rowcount == 0
    assert shop.count("private") == 1


def test_a_flow_sends_to_its_sinks_and_reads_back_only_what_it_sent(shop: Shop) -> None:
    _send(shop.platform, shop.queue("out"), "another producer's")
    _send(shop.platform, shop.queue("inbox"), "sent to the app directly")
    _send(shop.mover, shop.queue("out"), "mine")
    PostgresTopics(shop.mover).publish(shop.topic, "published")
    assert (shop.count("out"), shop.count("inbox")) == (2, 2)
    with connect(shop.mover_db) as conn:
        assert (_count(conn, shop.queue("out")), _count(conn, shop.queue("inbox"))) == (0, 0)
    assert shop.mover.lease(shop.queue("out"), limit=10) == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # a queue it does not name
        _send(shop.mover, shop.queue("private"), "forged")
    assert shop.count("private") == 0


def test_a_flow_touches_only_its_own_flow_rows(shop: Shop) -> None:
    with shop.platform.pool.connection() as conn:
        conn.execute("INSERT INTO comind.flow_cursors (flow, position) VALUES (%s, '1'), "
                     "(%s, '1')", (OTHER, MOVER))  # fmt: skip
        conn.execute("INSERT INTO comind.flow_runs (flow, status) VALUES (%s, 'succeeded')",
                     (OTHER,))  # fmt: skip
    try:
        with connect(shop.mover_db) as conn:
            assert conn.execute("SELECT flow FROM comind.flow_cursors").fetchall() == [(MOVER,)]
            assert conn.execute("SELECT count(*) FROM comind.flow_runs").fetchone() == (0,)
            assert conn.execute("UPDATE comind.flow_cursors SET position = '9'").rowcount == 1
            assert conn.execute("DELETE FROM comind.flow_runs").rowcount == 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO comind.flow_runs (flow, status) VALUES (%s, 'running')",
                             (OTHER,))  # fmt: skip
        with connect(shop.mover_db) as conn:  # the group holds grants, no rows of its own
            conn.execute("SET ROLE comind_worker")
            assert conn.execute("SELECT count(*) FROM comind.flow_cursors").fetchone() == (0,)
        with shop.platform.pool.connection() as conn:
            found = conn.execute("SELECT flow, position FROM comind.flow_cursors WHERE flow = "
                                 "ANY(%s) ORDER BY 1", ([MOVER, OTHER],)).fetchall()  # fmt: skip
            assert found == [(MOVER, 9), (OTHER, 1)]
            assert conn.execute("SELECT count(*) FROM comind.flow_runs WHERE flow = %s",
                                (OTHER,)).fetchone() == (1,)  # fmt: skip
    finally:
        with shop.platform.pool.connection() as conn:
            conn.execute("DELETE FROM comind.flow_cursors WHERE flow = ANY(%s)", ([MOVER, OTHER],))
            conn.execute("DELETE FROM comind.flow_runs WHERE flow = %s", (OTHER,))


def test_a_login_allowed_other_rows_is_drift(shop: Shop) -> None:
    res = next(r for r in shop.found.resources if r.kind == "flow" and r.name == MOVER)
    assert shop.found.access.observe(res) == ()
    with shop.platform.pool.connection() as conn:
        conn.execute("INSERT INTO comind.worker_grants (role, kind, name) VALUES (%s, 'receive', "
                     "%s)", (shop.mover_db.user, shop.queue("private")))  # fmt: skip
    assert any("other platform rows" in d for d in shop.found.access.observe(res))
    shop.found.access.apply(res)
    assert shop.found.access.observe(res) == ()
    assert shop.mover.lease(shop.queue("private"), limit=1) == []


def test_a_flow_locking_a_platform_table_is_ended_and_its_login_is_bounded(shop: Shop) -> None:
    """Red team 21g F1: UPDATE on a table is enough for LOCK TABLE, which row security does not
    filter: a flow held every app's queues. F2: its login had no connection limit. And the
    platform's leader lock (one bigint key) is not a flow's to take."""
    holder = connect(shop.mover_db, autocommit=False)
    try:
        holder.execute("LOCK TABLE comind.messages IN ACCESS EXCLUSIVE MODE")
        assert end_worker_locks(shop.platform.pool) == 1
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
    finally:
        holder.close()
    with shop.platform.pool.connection() as conn:
        limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                             (shop.mover_db.user,)).fetchone()  # fmt: skip
    assert limit == (WORKER_POOL * 2 + 2,)
    with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT pg_try_advisory_lock(1)")
    with connect(shop.mover_db) as conn:  # the two-key form its batch partitions use
        assert conn.execute("SELECT pg_try_advisory_lock(1, 2)").fetchone() == (True,)
