"""The transactional outbox: a message sent inside an app's own transaction exists if and
only if that transaction commits, and reaches the app's queue through the relay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.dba import dba
from tests.waiting import wait_until

from comind.queue import outbox
from comind.queue.layer import MessageLayer
from comind.queue.model import Attribute
from comind.queue.outbox import OutboxRelay
from comind.stores.postgres import PgTarget, connect


@pytest.fixture
def layer(pg: PgTarget) -> Iterator[MessageLayer]:
    messages = MessageLayer.open(pg, max_connections=4)
    messages.admin.create("shop/orders")
    messages.admin.create("shop/ledger.fifo", {"FifoQueue": "true"})
    yield messages
    messages.close()


@pytest.fixture
def relay(app_db: PgTarget, layer: MessageLayer) -> OutboxRelay:
    with dba(app_db) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
        outbox.install(conn)
        outbox.install(conn)  # idempotent
    return OutboxRelay("shop", app_db, layer.queues)


def _order(app_db: PgTarget, order_id: int, *, commit: bool) -> None:
    with dba(app_db, autocommit=False) as conn:
        conn.execute("INSERT INTO orders VALUES (%s, 10)", (order_id,))
        outbox.enqueue(conn, "orders", f'{{"order": {order_id}}}')
        conn.commit() if commit else conn.rollback()


def _bodies(layer: MessageLayer, queue: str) -> list[str]:
    return [m.body for m in layer.queues.peek(queue, limit=100)]


def _outbox_rows(app_db: PgTarget) -> list[tuple[int, str | None]]:
    with connect(app_db) as conn:
        return conn.execute("SELECT id, error FROM comind_outbox.messages ORDER BY id").fetchall()


def test_a_message_exists_if_and_only_if_the_app_transaction_commits(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    _order(app_db, 1, commit=True)
    _order(app_db, 2, commit=False)
    assert relay.step() == 1
    assert _bodies(layer, "shop/orders") == ['{"order": 1}']
    assert _outbox_rows(app_db) == []  # relayed rows leave the outbox
    assert relay.step() == 0


def test_attributes_group_and_order_survive_the_relay(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    with connect(app_db, autocommit=False) as conn:
        debit = {"kind": Attribute("String", string_value="debit")}
        for i in range(3):
            outbox.enqueue(conn, "ledger.fifo", f"entry {i}", group_id="acct-1", attributes=debit)
        conn.commit()
    relay.step()
    got = layer.queues.peek("shop/ledger.fifo")
    assert [m.body for m in got] == ["entry 0", "entry 1", "entry 2"]
    assert got[0].attributes["kind"].string_value == "debit"
    assert got[0].group_id == "acct-1"


def test_a_row_sent_again_after_a_crash_is_deduplicated_on_a_fifo_queue(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    with connect(app_db, autocommit=False) as conn:
        outbox.enqueue(conn, "ledger.fifo", "once", group_id="g")
        conn.commit()
    # the relay's send committed but its outbox delete did not (a crash in between)
    with connect(app_db, autocommit=False) as conn:
        relay._send(conn, "ledger.fifo", relay._take(conn, 10))
        conn.rollback()
    assert relay.step() == 1
    assert _bodies(layer, "shop/ledger.fifo") == ["once"]


def test_rows_that_cannot_be_sent_are_marked_and_do_not_block_the_others(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    with connect(app_db, autocommit=False) as conn:
        outbox.enqueue(conn, "orders", "good 1")
        outbox.enqueue(conn, "orders", "x" * (1024 * 1024 + 1))
        outbox.enqueue(conn, "missing", "nowhere to go")
        outbox.enqueue(conn, "orders", "good 2")
        conn.commit()
    assert relay.step() == 4
    assert _bodies(layer, "shop/orders") == ["good 1", "good 2"]
    errors = [error for _, error in _outbox_rows(app_db)]
    assert len(errors) == 2
    assert "Message must be shorter than" in errors[0]
    assert "QueueDoesNotExist" in errors[1]
    assert relay.step() == 0  # refused rows are not retried on every pass


def test_rows_an_app_wrote_by_hand_that_make_no_sense_are_refused(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    """The app owns its outbox table: any JSON may be in a row's attributes."""
    with connect(app_db) as conn:
        for attributes in ('{"x": 1}', '{"x": {"t": "String"}}', "[]", '{"x": {"b": "%%"}}'):
            conn.execute("INSERT INTO comind_outbox.messages (queue, body, attributes) "
                         "VALUES ('orders', 'odd', %s)", (attributes,))  # fmt: skip
        outbox.enqueue(conn, "orders", "good")
    assert relay.step() == 5
    assert _bodies(layer, "shop/orders") == ["good"]
    errors = [error for _, error in _outbox_rows(app_db)]
    assert len(errors) == 4 and all(e and "unreadable row" in e for e in errors)


def test_the_running_relay_is_woken_by_a_commit(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop,))
    worker.start()
    try:
        _order(app_db, 7, commit=True)
        assert wait_until(lambda: _bodies(layer, "shop/orders") == ['{"order": 7}'], timeout=10)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()


def test_an_app_that_writes_plain_sql_needs_no_library(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    with psycopg.connect(app_db.conninfo()) as conn:  # any language: one INSERT
        conn.execute("INSERT INTO comind_outbox.messages (queue, body) VALUES ('orders', 'hi')")
    relay.step()
    assert _bodies(layer, "shop/orders") == ["hi"]


def test_a_deep_or_huge_row_is_refused_alone_and_never_read_whole(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    """The red team's rows: JSON nested past the parser's depth, and bodies and attributes far
    over a message's size, which a relay reading 500 rows at a time would hold in memory."""
    deep = "[" * 5000 + "]" * 5000
    with connect(app_db) as conn:
        outbox.enqueue(conn, "orders", "before")
        conn.execute("INSERT INTO comind_outbox.messages (queue, body, attributes) "
                     "VALUES ('orders', 'deep', %s::jsonb)", ('{"x": ' + deep + "}",))  # fmt: skip
        conn.execute("INSERT INTO comind_outbox.messages (queue, body) "
                     "VALUES ('orders', repeat('x', 3 * 1024 * 1024))")  # fmt: skip
        fat = "jsonb_build_object('x', repeat('y', 2 * 1024 * 1024))"
        conn.execute("INSERT INTO comind_outbox.messages (queue, body, attributes) "
                     f"VALUES ('orders', 'fat', {fat})")  # fmt: skip
        outbox.enqueue(conn, "orders", "after")
    assert relay.step() == 5
    assert _bodies(layer, "shop/orders") == ["before", "after"]
    errors = [error or "" for _, error in _outbox_rows(app_db)]
    assert len(errors) == 3 and "unreadable row" in errors[0]
    assert all("Message must be shorter than" in e for e in errors[1:])


def test_one_step_holds_a_bounded_number_of_bytes(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    with connect(app_db) as conn:
        conn.execute("INSERT INTO comind_outbox.messages (queue, body) SELECT 'orders', "
                     "repeat('z', 900 * 1024) FROM generate_series(1, 20)")  # fmt: skip
    first = relay.step()
    assert 0 < first < 20  # 8 MiB a step: the rest waits for the next
    assert first + relay.step() + relay.step() == 20
    assert len(layer.queues.peek("shop/orders", limit=100)) == 20


def test_a_table_the_app_altered_is_not_relayed_and_nothing_is_lost(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    with connect(app_db) as conn:
        outbox.enqueue(conn, "orders", "waits")
        conn.execute("ALTER TABLE comind_outbox.messages "
                     "ALTER COLUMN delay_seconds TYPE double precision")  # fmt: skip
        conn.execute("UPDATE comind_outbox.messages SET delay_seconds = 'NaN'")
    assert relay.step() == 0
    assert _bodies(layer, "shop/orders") == []
    with connect(app_db) as conn:
        conn.execute("UPDATE comind_outbox.messages SET delay_seconds = NULL")
        conn.execute("ALTER TABLE comind_outbox.messages ALTER COLUMN delay_seconds TYPE integer")
    assert relay.step() == 1
    assert _bodies(layer, "shop/orders") == ["waits"]


def test_what_was_sent_is_forgotten_when_a_later_row_stops_the_step(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(app_db) as conn:
        outbox.enqueue(conn, "orders", "first")
        outbox.enqueue(conn, "ledger.fifo", "second", group_id="g")
    send = layer.queues.send

    def fail_on_ledger(name: str, messages: list[Any]) -> Any:
        if name.endswith("ledger.fifo"):
            raise RuntimeError("something nobody expected")
        return send(name, messages)

    monkeypatch.setattr(layer.queues, "send", fail_on_ledger)
    with pytest.raises(RuntimeError):
        relay.step()
    monkeypatch.setattr(layer.queues, "send", send)
    assert relay.step() == 1  # only the row that was not sent is left
    assert _bodies(layer, "shop/orders") == ["first"]  # sent once, not again


def test_a_huge_name_or_id_is_refused_alone_and_never_read_whole(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    """Red team F4: group and deduplication ids, queue and topic names are capped too (a
    relay fetching 16 rows of 40 MB ids grew by a gigabyte)."""
    with connect(app_db) as conn:
        outbox.enqueue(conn, "orders", "before")
        conn.execute("INSERT INTO comind_outbox.messages (queue, body, group_id) "
                     "VALUES ('ledger.fifo', 'fat group', repeat('g', 4 << 20))")  # fmt: skip
        conn.execute("INSERT INTO comind_outbox.messages (queue, body, dedup_id) "
                     "VALUES ('ledger.fifo', 'fat dedup', repeat('d', 300))")  # fmt: skip
        conn.execute("INSERT INTO comind_outbox.messages (queue, body) "
                     "VALUES (repeat('q', 1024 * 1024), 'fat queue')")  # fmt: skip
        conn.execute("INSERT INTO comind_outbox.messages (topic, body) "
                     "VALUES (repeat('t', 257), 'fat topic')")  # fmt: skip
        outbox.enqueue(conn, "orders", "after")
    assert relay.step() == 6
    assert _bodies(layer, "shop/orders") == ["before", "after"]
    assert _bodies(layer, "shop/ledger.fifo") == []
    errors = [error or "" for _, error in _outbox_rows(app_db)]
    assert len(errors) == 4 and all("over 256 bytes" in e for e in errors)


@pytest.mark.parametrize("guard", [
    "CREATE FUNCTION comind_outbox.keep() RETURNS trigger LANGUAGE plpgsql AS "
    "$$BEGIN RETURN NULL; END$$; CREATE TRIGGER keep BEFORE DELETE ON comind_outbox.messages "
    "FOR EACH ROW EXECUTE FUNCTION comind_outbox.keep()",
    "CREATE RULE keep AS ON DELETE TO comind_outbox.messages DO INSTEAD NOTHING",
    "ALTER TABLE comind_outbox.messages ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; "
    "CREATE POLICY keep ON comind_outbox.messages FOR SELECT USING (true); "
    "CREATE POLICY keep_u ON comind_outbox.messages FOR UPDATE USING (true)",
])  # fmt: skip
def test_a_table_whose_delete_the_app_changed_is_not_relayed(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay, guard: str
) -> None:
    """Red team F5: a DELETE made a no-op (a trigger, a rule, row security) had every row
    sent again each second, forever; such a table is not read until it is put back."""
    with connect(app_db) as conn:
        outbox.enqueue(conn, "orders", "once")
        conn.execute(guard)
    for _ in range(3):
        assert relay.step() == 0
    assert _bodies(layer, "shop/orders") == []
    with connect(app_db) as conn:
        conn.execute("DROP TRIGGER IF EXISTS keep ON comind_outbox.messages; "
                     "DROP RULE IF EXISTS keep ON comind_outbox.messages; "
                     "DROP POLICY IF EXISTS keep ON comind_outbox.messages; "
                     "DROP POLICY IF EXISTS keep_u ON comind_outbox.messages; "
                     "ALTER TABLE comind_outbox.messages DISABLE ROW LEVEL SECURITY")  # fmt: skip
    assert relay.step() == 1
    assert relay.step() == 0
    assert _bodies(layer, "shop/orders") == ["once"]


def test_the_relay_halts_when_sent_rows_are_not_deleted(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a no-op DELETE get past the table's checks, the relay stops after one send
    rather than repeating it."""
    monkeypatch.setattr(outbox, "_misshapen", lambda conn: None)
    with connect(app_db) as conn:
        conn.execute("CREATE RULE keep AS ON DELETE TO comind_outbox.messages DO INSTEAD NOTHING")
        outbox.enqueue(conn, "orders", "once")
    assert relay.step() == 1
    assert relay.step() == 0
    assert _bodies(layer, "shop/orders") == ["once"]


def test_a_child_table_the_app_made_is_never_relayed(
    app_db: PgTarget, layer: MessageLayer, relay: OutboxRelay
) -> None:
    """Red team 21c: rows of a table inheriting from the outbox, whose delete trigger puts
    them back, were read through the parent and sent again and again."""
    with connect(app_db) as conn:
        conn.execute("CREATE TABLE comind_outbox.kid () INHERITS (comind_outbox.messages)")
        conn.execute("INSERT INTO comind_outbox.kid (queue, body) VALUES ('orders', 'kid')")
        outbox.enqueue(conn, "orders", "real")
    assert relay.step() == 1
    assert relay.step() == 0
    assert _bodies(layer, "shop/orders") == ["real"]
