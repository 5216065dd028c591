"""Red team 21f H1: every flow's workers shared one platform-database login with no row
filter, so a flow's code could read, forge or delete the messages of any app's queues and
change other flows' runs, cursors and quarantine. Each flow now logs in as its own member of
the workers' group, and row security (migration 0028) keeps it to the rows its spec names:
its own flow rows, the queues it receives from, the queues and topics it sends to (which it
may write, never read back beyond what it sent itself)."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from provisioned import Provisioned, provisioned
from psycopg.types.json import Jsonb

from comind.flows.limits import MAX_PARALLEL
from comind.flows.state import FlowState
from comind.gitops.providers.flow_access import WORKER_POOL
from comind.governance.quality_store import KEEP, CheckResult, QualityResults
from comind.observe.metrics import REGISTRY
from comind.platform import Platform
from comind.platform.worker import WorkerLogins
from comind.queue.model import OutgoingMessage, queue_arn
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_admin import PostgresQueueAdmin
from comind.queue.postgres_topics import PostgresTopics
from comind.spec.names import flow_dead_letter_queue
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
    platform_db: PgTarget

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
                yield Shop(app, topic, found, platform, PostgresQueues(pool), target, runtime.db)
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
        assert conn.execute("UPDATE comind.messages SET visible_at = now()").rowcount == 0
    private = shop.platform.lease(shop.queue("private"), limit=1)  # its receipt, leaked
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        shop.mover.delete_many(shop.queue("private"), [m.receipt_handle for m in private])
    with connect(shop.mover_db) as conn:
        take = "SELECT comind.dead_letter(%s, ARRAY[1::bigint])"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(take, (shop.platform.cached(shop.queue("private")).id,))
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
    """Red team 21g F1: UPDATE or DELETE on a table is enough for LOCK TABLE, which row
    security does not filter: a flow held every app's queues. It deletes messages through
    functions now (migration 0031), and a lock on its flow tables ends its session. F2: its
    login had no connection limit. And the platform's leader lock (one bigint key) is not a
    flow's to take."""
    with connect(shop.mover_db) as conn:
        for mode in ("ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(f"LOCK TABLE comind.messages IN {mode} MODE")
    holder = connect(shop.mover_db, autocommit=False)
    try:
        holder.execute("LOCK TABLE comind.flow_stats IN ACCESS EXCLUSIVE MODE")
        assert end_worker_locks(shop.platform.pool) == 1
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
    finally:
        holder.close()
    with shop.platform.pool.connection() as conn:
        limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                             (shop.mover_db.user,)).fetchone()  # fmt: skip
    assert limit == (WORKER_POOL * 3 + MAX_PARALLEL + 2,)
    with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT pg_try_advisory_lock(1)")


# -- red team 21g: which values a flow may write (migration 0030)

_ADD = ("INSERT INTO comind.messages (queue_id, message_id, body, attributes, visible_at, "
        "expires_at{extra}) SELECT id, gen_random_uuid(), %(body)s, %(attributes)s, "
        "now() + %(delay)s::interval, now() + %(keep)s::interval{values} "
        "FROM comind.queues WHERE name = %(queue)s")  # fmt: skip


def _add(db: PgTarget, queue: str, *, body: str = "ok", attributes: object = None,
         delay: str = "0 s", keep: str = "1 hour", **extra: object) -> int:  # fmt: skip
    statement = _ADD.format(extra="".join(f", {k}" for k in extra),
                            values="".join(f", %({k})s" for k in extra))  # fmt: skip
    with connect(db) as conn:
        args = {"body": body, "attributes": Jsonb(attributes or {}), "delay": delay,
                "keep": keep, "queue": queue, **extra}  # fmt: skip
        return conn.execute(statement, args).rowcount


@pytest.mark.parametrize("bad", [
    {"attributes": {"x": {"DataType": "String"}}},  # the red team's poison: no "t"
    {"attributes": {"x": {"t": "String", "s": "a", "b": "YQ=="}}},
    {"attributes": [1, 2]},
    {"body": "x" * (1024 * 1024 + 1)},  # over the queue's MaximumMessageSize
    {"keep": "30 days"},  # beyond the queue's retention (4 days)
    {"delay": "1 hour"},  # beyond SQS's 15 minutes
    {"delay": "-1 day"},  # ahead of every message waiting
    {"body": "a\x01b"},  # red team 21h M1: no XML answer can carry it
    {"attributes": {"x": {"t": "String", "s": "a\x02"}}},
    {"attributes": {"x": {"t": "Binary", "s": "not binary"}}},
    {"attributes": {f"a{i}": {"t": "String", "s": "v"} for i in range(11)}},
    {"group_id": "g"},  # flows write standard queues only
    # red team 21i: what JSON writes as \b and \f, U+FFFF, in a name or a value
    {"attributes": {"x": {"t": "String", "s": "a\bb"}}},
    {"attributes": {"x\f": {"t": "String", "s": "a"}}},
    {"attributes": {"x": {"t": "String", "s": "a\uffff"}}},
    {"attributes": {"x": {"t": "Number", "s": "not a number"}}},
    {"attributes": {"x": {"t": "Weird", "s": "a"}}},
    {"attributes": {"x": {"t": "String", "s": ""}}},
    {"attributes": {"aws.forged": {"t": "String", "s": "a"}}},
    {"receive_count": 3},  # a send makes a message never received
    {"sent_at": datetime(2020, 1, 1, tzinfo=UTC)},
    {"dead_letter_info": Jsonb({"source_queue": "x"})},
], ids=lambda bad: next(iter(bad)))  # fmt: skip
def test_a_flow_sends_only_a_message_a_send_would_make(shop: Shop, bad: dict[str, object]) -> None:
    """F6: the send policy checked only the queue: a malformed attribute made every
    ReceiveMessage of the app's queue fail; a 64 MiB body or an endless expiry went in."""
    assert _add(shop.mover_db, shop.queue("out"), attributes={"x": {"t": "String", "s": "a"}}) == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _add(shop.mover_db, shop.queue("out"), **bad)  # type: ignore[arg-type]
    assert shop.count("out") == 1


def test_a_message_that_does_not_decode_is_left_out_alone(shop: Shop) -> None:
    """What got past the checks before 0030 (or a hand-made row) fails no receive."""
    _add(shop.platform_db, shop.queue("jobs"), body="poison", attributes={"x": {"v": 1}})
    _send(shop.platform, shop.queue("jobs"), "job")
    before = REGISTRY.get_sample_value("comind_queue_undecodable_messages_total",
                                       {"queue": shop.queue("jobs")}) or 0.0  # fmt: skip
    assert [m.body for m in shop.mover.lease(shop.queue("jobs"), limit=10)] == ["job"]
    after = REGISTRY.get_sample_value("comind_queue_undecodable_messages_total",
                                      {"queue": shop.queue("jobs")})  # fmt: skip
    assert after == before + 1


def test_a_flow_leases_a_message_and_rewrites_nothing_else(shop: Shop) -> None:
    _send(shop.platform, shop.queue("jobs"), "job")
    with connect(shop.mover_db) as conn:
        assert conn.execute("UPDATE comind.messages SET visible_at = now() + interval '1 min'"
                            ).rowcount == 1  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE comind.messages SET body = 'forged'")
    for when in ("'infinity'", "'-infinity'", "now() - interval '1 s'"):  # nor ahead of all
        with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"UPDATE comind.messages SET visible_at = {when}")
    with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM comind.queue_dedup")


def test_a_flow_appends_quality_results_and_lineage_and_rewrites_neither(shop: Shop) -> None:
    """F3: a flow rewrote the quality history of the dataset it reads; F7: it dated a lineage
    event 2099, out of retention's reach."""
    login, dataset = shop.mover_db.user, f"{shop.app}.orders"
    with shop.platform.pool.connection() as conn:
        conn.execute(
            "INSERT INTO comind.worker_grants VALUES (%s, 'dataset', %s)", (login, dataset)
        )
    result = CheckResult("not_null id", "error", passed=True, rows_checked=3)
    try:
        QualityResults(shop.mover.pool).record(dataset, "", "run1", [result])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            QualityResults(shop.mover.pool).record(f"{shop.app}.other", "", "run1", [result])
        for forged in ("UPDATE comind.quality_results SET passed = false",
                       "DELETE FROM comind.quality_results",
                       "SELECT count(*) FROM comind.quality_results",
                       "INSERT INTO comind.quality_results (dataset, partition, rule, severity,"
                       f" passed, run_id, checked_at) VALUES ('{dataset}', '', 'r', 'error', true,"
                       " 'x', now() - interval '1 day')"):  # fmt: skip
            with (
                connect(shop.mover_db) as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                conn.execute(forged)
        assert [r["passed"] for r in QualityResults(shop.platform.pool).history(dataset)] == [True]
        event = ("INSERT INTO comind.lineage_events (event_time, event_type, run_id, job, payload)"
                 " VALUES (%s, 'COMPLETE', gen_random_uuid(), %s, '{}')")  # fmt: skip
        with connect(shop.mover_db) as conn:
            conn.execute(event, (datetime.now(UTC), MOVER))
        with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(event, (datetime(2099, 1, 1, tzinfo=UTC), MOVER))
    finally:
        with shop.platform.pool.connection() as conn:
            conn.execute("DELETE FROM comind.worker_grants WHERE role = %s AND kind = 'dataset'",
                         (login,))  # fmt: skip
            conn.execute("DELETE FROM comind.quality_results WHERE dataset = %s", (dataset,))
            conn.execute("DELETE FROM comind.lineage_events WHERE job = %s", (MOVER,))


def test_a_flow_claims_its_own_partitions_and_takes_no_other_lock(shop: Shop) -> None:
    """F4: a flow took other flows' partition claims (advisory locks row security does not
    cover); F5: it filled the cluster's lock table with them, or with temporary tables."""
    with FlowState(shop.mover.pool).partition_claim(MOVER, "2026-12-05") as mine:
        assert mine
        with FlowState(shop.platform.pool).partition_claim(MOVER, "2026-12-05") as theirs:
            assert not theirs  # the platform's runs and the flow's share one claim
    with connect(shop.mover_db) as conn:
        claim = "SELECT comind.claim_partition(%s, %s)"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(claim, (OTHER, "2026-12-05"))
    with connect(shop.mover_db) as conn:
        for day in range(4):
            assert conn.execute(claim, (MOVER, f"2026-12-0{day + 1}")).fetchone() == (True,)
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            conn.execute(claim, (MOVER, "2026-12-09"))
    for taken in ("SELECT pg_try_advisory_lock(1, 2)", "SELECT pg_advisory_xact_lock(1, 2)",
                  "CREATE TEMP TABLE t (id int)"):  # fmt: skip
        with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(taken)


def test_quality_history_keeps_the_last_results_of_each_rule(shop: Shop) -> None:
    dataset = f"{shop.app}.history"
    results = QualityResults(shop.platform.pool)
    try:
        for run in range(KEEP + 3):
            results.record(dataset, "", f"r{run}", [CheckResult("a", "error", passed=True)])
        results.record(dataset, "", "b", [CheckResult("b", "error", passed=False)])
        assert results.prune() >= 3
        kept = results.history(dataset, limit=KEEP * 2)
        assert Counter(r["rule"] for r in kept) == {"a": KEEP, "b": 1}
        assert {r["run_id"] for r in kept if r["rule"] == "a"} == {
            f"r{i}" for i in range(3, KEEP + 3)
        }
    finally:
        with shop.platform.pool.connection() as conn:
            conn.execute("DELETE FROM comind.quality_results WHERE dataset = %s", (dataset,))


def test_a_flows_receive_dead_letters_through_the_platforms_function(shop: Shop) -> None:
    """The dead-lettering half of a receive deletes (migration 0031: as the platform, for a
    queue the flow receives from), and the letter goes into the DLQ within its bounds."""
    source, dlq = shop.queue("jobs"), shop.queue("jobs-dlq")
    admin = PostgresQueueAdmin(shop.platform)
    admin.create(dlq)
    try:
        redrive = json.dumps({"deadLetterTargetArn": queue_arn(dlq), "maxReceiveCount": "1"})
        admin.set_attributes(source, {"RedrivePolicy": redrive})
        with shop.platform.pool.connection() as conn:  # the spec names no DLQ: grant it here
            conn.execute("INSERT INTO comind.worker_grants VALUES (%s, 'receive', %s)",
                         (shop.mover_db.user, dlq))  # fmt: skip
        _send(shop.platform, source, "fails every time")
        assert len(shop.mover.lease(source, limit=1, visibility_timeout=0)) == 1
        assert shop.mover.lease(source, limit=1) == []  # received once: dead-lettered
        assert (shop.count("jobs"), shop.count("jobs-dlq")) == (0, 1)
    finally:
        with shop.platform.pool.connection() as conn:
            conn.execute("DELETE FROM comind.worker_grants WHERE name = %s", (dlq,))
        admin.delete(dlq)


def test_a_flow_records_tokens_only_under_its_own_scopes(shop: Shop) -> None:
    """Red team 21g F8: the token vault took the scope a token is written to from the
    caller, so a flow could record its tokens as written to any dataset."""
    known = "SELECT count(*) FROM comind.known_tokens(ARRAY[]::bytea[], %s)"
    add = "SELECT comind.add_token('\\x00'::bytea, 't', '\\x00'::bytea, %s)"
    with connect(shop.mover_db) as conn:
        assert conn.execute(known, (f"flow/{MOVER}/email",)).fetchone() == (0,)
    for call, scope in ((known, f"flow/{OTHER}/email"), (known, "dataset/x.y/email"),
                        (add, f"flow/{OTHER}/email"),
                        (known, f"flow/{MOVER}/../../dataset/x.y/email")):  # fmt: skip
        with connect(shop.mover_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(call, (scope,))


def test_a_flow_writes_no_letter_and_nothing_into_a_queue_it_reads(shop: Shop) -> None:
    """Red team 21h H2: a flow inserted letters into a dead-letter queue it reads, naming any
    queue as their source, and a redrive delivered them there."""
    letter = Jsonb({"source_queue": shop.queue("private")})
    for fields in ({}, {"dead_letter_info": letter}):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _add(shop.mover_db, shop.queue("jobs"), **fields)  # type: ignore[arg-type]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor, as a letter, elsewhere
        _add(shop.mover_db, shop.queue("out"), dead_letter_info=letter)
    assert shop.count("jobs") == 0
    own = flow_dead_letter_queue(MOVER)  # its own records' letters, as sends
    PostgresQueueAdmin(shop.platform).create(own)  # the flow provider's, where the platform runs
    try:
        assert _add(shop.mover_db, own) == 1
    finally:
        PostgresQueueAdmin(shop.platform).delete(own)


def test_a_flow_sends_every_attribute_a_send_accepts(shop: Shop) -> None:
    attributes = {"s": {"t": "String", "s": "é\tline"}, "n": {"t": "Number.float", "s": "-1.5e3"},
                  "b": {"t": "Binary", "b": "YQ=="}, "aws.trace": {"t": "String", "s": "Root=1"},
                  "x.y_z-1": {"t": "String.label", "s": "v"}}  # fmt: skip
    assert _add(shop.mover_db, shop.queue("out"), body="ok\n", attributes=attributes) == 1
    [got] = shop.platform.lease(shop.queue("out"), limit=1)
    assert got.attributes["n"].string_value == "-1.5e3" and got.trace_header == "Root=1"
