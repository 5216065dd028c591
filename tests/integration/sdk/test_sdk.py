"""The app SDK against the real Redis and PostgreSQL (issue 20's acceptance): a value missed
by many callers at once is computed once and then served from Redis until invalidated; two
processes holding the same lock never overlap, and a stale holder is refused by the fence;
an outbox message of a rolled-back transaction is never delivered, one of a committed
transaction exactly once; an event is published only to a topic the app declares."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import msgpack
import pytest
import redis
from tests.dba import dba
from tests.waiting import wait_until

from comind.apps.cache_evictions import EvictionWatcher
from comind.apps.cache_metrics import AppCacheCollector
from comind.embedded.platform import EmbeddedPlatform
from comind.gitops.table_watch import TableWatcher
from comind.queue import outbox as platform_outbox
from comind.queue.layer import MessageLayer
from comind.queue.outbox import OutboxRelay
from comind.sdk import Cache, Counter, Fence, Lock, QueryCache, RateLimit, Sessions, events, outbox
from comind.sdk.keys import epoch_key, stats_key, version_key
from comind.stores.postgres import PgTarget, connect
from comind.stores.redis import client, default_user, tls_options
from comind.stores.redis_acl import RedisAcl, app_grant

Keys = tuple[redis.Redis, str]


def test_many_misses_compute_once_then_redis_serves_until_invalidated(rkeys: Keys) -> None:
    client, prefix = rkeys
    cache = Cache(client, prefix, ttl=30)
    calls: list[int] = []

    def price() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.2)  # slow enough that every caller misses while it runs
        return {"cents": 1299}

    got: list[object] = []
    callers = [threading.Thread(target=lambda: got.append(cache.get_or_set("sku:1", price)))
               for _ in range(8)]  # fmt: skip
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert got == [{"cents": 1299}] * 8 and len(calls) == 1  # one computation for eight
    assert cache.get_or_set("sku:1", price) == {"cents": 1299} and len(calls) == 1
    assert 0 < client.pttl(prefix + "sku:1") <= 30_000  # the spec's cache.ttl
    assert cache.delete("sku:1") == 1
    cache.get_or_set("sku:1", price)
    assert len(calls) == 2  # recomputed after the invalidation
    stats = client.hgetall(stats_key(prefix))
    assert (int(stats["hits"]), int(stats["invalidations"])) == (1, 1)
    assert int(stats["misses"]) >= 2


def test_the_decorator_caches_by_the_name_it_is_given(rkeys: Keys) -> None:
    client, prefix = rkeys
    cache = Cache(client, prefix)
    seen: list[int] = []

    @cache.cached(lambda n: f"square:{n}")
    def square(n: int) -> int:
        seen.append(n)
        return n * n

    assert [square(3), square(3), square(4)] == [9, 9, 16] and seen == [3, 4]


WORKER = """
import sys, time, redis
from comind.sdk import Lock
client = redis.Redis.from_url(sys.argv[1], decode_responses=True)
for i in range(15):
    with Lock(client, sys.argv[2], lease=5, wait=30):
        client.rpush(sys.argv[3], f"{sys.argv[4]} in")
        time.sleep(0.01)
        client.rpush(sys.argv[3], f"{sys.argv[4]} out")
"""


def test_two_processes_holding_one_lock_never_overlap(
    platform: EmbeddedPlatform, rkeys: Keys
) -> None:
    client, prefix = rkeys
    url = default_user(platform.redis).url()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, prefix + "job",
                               prefix + "trace", who]) for who in ("a", "b")]  # fmt: skip
    assert [p.wait(60) for p in procs] == [0, 0]
    trace = client.lrange(prefix + "trace", 0, -1)
    assert len(trace) == 60
    for entered, left in zip(trace[::2], trace[1::2], strict=True):  # in, out, in, out...
        assert entered.endswith(" in") and left == entered.replace(" in", " out")


def test_a_holder_whose_lease_ran_out_is_refused_by_the_fence(rkeys: Keys) -> None:
    client, prefix = rkeys
    fence = Fence(client, prefix + "ledger")
    stale = Lock(client, prefix + "ledger", lease=0.1)
    old = stale.acquire()
    time.sleep(0.3)  # it stalls: its lease runs out without it knowing
    with Lock(client, prefix + "ledger", wait=1) as new:
        assert new > old and fence.admit(new)
    assert not fence.admit(old)  # the stale holder's write is refused
    assert fence.admit(new)  # the newest holder may write again


@pytest.fixture
def shop(pg: PgTarget, app_db: PgTarget) -> Iterator[tuple[MessageLayer, OutboxRelay]]:
    messages = MessageLayer.open(pg, max_connections=4)
    messages.admin.create("shop/order-events")
    with dba(app_db) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        platform_outbox.install(conn)  # as the platform does when it provisions the database
    messages.admin.create("billing/settled.fifo", {"FifoQueue": "true"})
    messages.admin.create("audit/all")
    messages.topics.create("payment-settled")
    messages.topics.subscribe("payment-settled", "billing/settled.fifo")
    messages.topics.subscribe("payment-settled", "audit/all", filter_policy={"amount": [
        {"numeric": [">=", 100]}]})  # fmt: skip
    relay = OutboxRelay("shop", app_db, messages.queues, messages.topics,
                        lambda: {"payment-settled"})  # fmt: skip
    yield messages, relay
    messages.close()


def test_an_outbox_message_is_delivered_iff_its_transaction_commits_and_once(
    app_db: PgTarget, shop: tuple[MessageLayer, OutboxRelay]
) -> None:
    messages, relay = shop
    for order, commit in ((1, False), (2, True)):
        with dba(app_db, autocommit=False) as conn:  # the app's own connection
            conn.execute("INSERT INTO orders VALUES (%s)", (order,))
            outbox.send(conn, "order-events", f'{{"order": {order}}}')
            conn.commit() if commit else conn.rollback()
    assert relay.step() == 1 and relay.step() == 0  # moved once, then nothing is left
    bodies = [m.body for m in messages.queues.peek("shop/order-events", limit=10)]
    assert bodies == ['{"order": 2}']


def test_msgpack_values_come_back_as_they_went_in(platform: EmbeddedPlatform, rkeys: Keys) -> None:
    _, prefix = rkeys
    at = default_user(platform.redis)  # msgpack is binary: a client that leaves bytes alone
    raw = redis.Redis(host=at.host, port=at.port, password=at.password, **tls_options(at.ca))
    cache = Cache(raw, prefix, values="msgpack")
    value = {"sku": "A-1", "sizes": [38, 39], "price": 12.5, "photo": b"\x89PNG"}
    assert cache.get_or_set("sku:A-1", lambda: value) == value
    assert cache.get("sku:A-1") == value  # a hit decodes the same
    assert raw.get(prefix + "sku:A-1") == msgpack.packb(value)
    raw.close()


def test_the_platform_exports_what_the_sdk_counted(rkeys: Keys) -> None:
    client, prefix = rkeys
    app = prefix.removesuffix(":")  # an app's key prefix is "<app>:"
    cache = Cache(client, prefix)
    cache.get_or_set("a", lambda: 1)
    cache.get("a")
    cache.delete("a")
    collected = {f.name: {s.labels["app"]: s.value for s in f.samples if s.name.endswith("_total")}
                 for f in AppCacheCollector(client, lambda: [app]).collect()}  # fmt: skip
    assert collected["comind_app_cache_hits"] == {app: 1.0}
    assert collected["comind_app_cache_misses"] == {app: 1.0}
    assert collected["comind_app_cache_sets"] == {app: 1.0}
    assert collected["comind_app_cache_invalidations"] == {app: 1.0}


def test_values_redis_evicts_are_counted_for_their_app(platform: EmbeddedPlatform,
                                                       rkeys: Keys) -> None:  # fmt: skip
    client, prefix = rkeys
    app = prefix.removesuffix(":")
    stop = EvictionWatcher(default_user(platform.redis), lambda: [app]).start()
    assert wait_until(lambda: client.pubsub_numpat() >= 1, 10)  # it listens
    cap = int(client.info("memory")["used_memory"]) + 2_000_000
    client.config_set("maxmemory", cap)  # embedded Redis: volatile-lru, evictions announced
    try:
        cache = Cache(client, prefix)
        for i in range(400):  # 4 MB of cached values, twice what fits
            cache.set(f"page:{i}", "x" * 10_000, ttl=60)
    finally:
        client.config_set("maxmemory", 0)
    evicted = 400 - sum(1 for _ in client.scan_iter(f"{prefix}page:*"))
    assert evicted > 0  # each one announced and counted once:
    counted = lambda: client.hget(stats_key(prefix), "evictions")  # noqa: E731
    assert wait_until(lambda: counted() == str(evicted), 10), (counted(), evicted)
    stop.set()
    exported = {
        f.name: f.samples[0].value for f in AppCacheCollector(client, lambda: [app]).collect()
    }
    assert exported["comind_app_cache_evictions"] == evicted


def test_a_cached_query_is_served_from_redis_until_its_table_is_written(
    app_db: PgTarget, rkeys: Keys
) -> None:
    client, prefix = rkeys
    app = prefix.removesuffix(":")
    with dba(app_db) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, price numeric)")
        conn.execute("INSERT INTO items VALUES (1, 9.50)")
        QueryCache.watch(conn, "items")
    stop = threading.Event()
    watcher = threading.Thread(target=TableWatcher(app, app_db, client).run, args=(stop,))
    watcher.start()
    assert wait_until(lambda: client.get(epoch_key(prefix)) == "1", 10)  # it listens now
    qc = QueryCache(Cache(client, prefix))
    count = "SELECT count(*), sum(price) FROM items"
    try:
        with dba(app_db) as conn:
            assert qc.rows(conn, count, tables=["items"]) == [[1, "9.50"]]
            assert qc.rows(conn, count, tables=["items"]) == [[1, "9.50"]]  # from Redis
            hits = int(client.hget(stats_key(prefix), "hits") or 0)
            assert hits == 1
            conn.execute("INSERT INTO items VALUES (2, 0.50)")  # committed: autocommit
        assert wait_until(lambda: client.get(version_key(prefix, "items")) == "1", 10)
        with dba(app_db) as conn:
            assert qc.rows(conn, count, tables=["items"]) == [[2, "10.00"]]  # recomputed
    finally:
        stop.set()
        watcher.join(10)


@pytest.fixture
def app_user(platform: EmbeddedPlatform) -> Iterator[tuple[redis.Redis, str]]:
    """A client logged in as an app's own Redis ACL user (as the app is), and its prefix."""
    app = f"sdk{uuid.uuid4().hex[:8]}"
    admin = default_user(platform.redis)
    acl = RedisAcl(admin)
    acl.ensure_user(app, "app-password-123", app_grant(app))
    with client(admin.login(app, "app-password-123")) as conn:
        yield conn, f"{app}:"
    acl.delete_user(app)
    with client(admin) as root:
        for key in root.scan_iter(f"{app}:*"):
            root.delete(key)


def test_counters_rate_limits_and_sessions_as_the_apps_own_user(
    app_user: tuple[redis.Redis, str],
) -> None:
    client_, prefix = app_user
    hits = Counter(client_, prefix + "hits")
    assert [hits.incr(), hits.incr(5), hits.value()] == [1, 6, 6]
    limit = RateLimit(client_, prefix + "login", limit=3, per=60)
    allowed = [limit.allow("ann") for _ in range(5)]
    assert allowed == [True, True, True, False, False] and limit.allow("bob")
    sessions = Sessions(client_, prefix, ttl=60)
    sid = sessions.create({"user": "ann", "cart": [1, 2]})
    assert sessions.get(sid) == {"user": "ann", "cart": [1, 2]} and len(sid) >= 43
    assert sessions.update(sid, {"user": "ann", "cart": []})
    sessions.delete(sid)
    assert sessions.get(sid) is None and not sessions.update(sid, {})
    cache = Cache(client_, prefix)  # the cache, locks and fences work within its keys too
    assert cache.get_or_set("k", lambda: [1]) == [1]
    with Lock(client_, prefix + "job") as token:
        assert Fence(client_, prefix + "job").admit(token)
    with pytest.raises(redis.exceptions.NoPermissionError):
        Counter(client_, "another-app:hits").incr()  # nothing outside its prefix


def test_an_event_is_published_after_commit_to_a_declared_topic_only(
    app_db: PgTarget, shop: tuple[MessageLayer, OutboxRelay]
) -> None:
    messages, relay = shop
    with connect(app_db, autocommit=False) as conn:
        events.publish(conn, "payment-settled", "rolled back", attributes={"amount": 500})
        conn.rollback()
        events.publish(conn, "payment-settled", "small", attributes={"amount": 20})
        events.publish(conn, "payment-settled", "large", attributes={"amount": 250})
        events.publish(conn, "order-placed", "not declared")
        conn.commit()
    assert relay.step() == 3 and relay.step() == 0
    assert [m.body for m in messages.queues.peek("billing/settled.fifo", limit=10)] == [
        "small", "large"]  # fmt: skip
    assert [m.body for m in messages.queues.peek("audit/all", limit=10)] == ["large"]  # filtered
    with connect(app_db) as conn:
        refused = conn.execute("SELECT topic, error FROM comind_outbox.messages").fetchall()
    assert refused == [("order-placed", "app shop does not publish to topic 'order-placed' "
                                        "(add it to the app's `publishes:`)")]  # fmt: skip


def test_an_event_relayed_twice_reaches_a_fifo_subscriber_once(
    app_db: PgTarget, shop: tuple[MessageLayer, OutboxRelay]
) -> None:
    messages, relay = shop
    with connect(app_db, autocommit=False) as conn:
        events.publish(conn, "payment-settled", "once")
        conn.commit()
    with connect(app_db) as conn:  # a crash after the publish, before the row was deleted:
        row = conn.execute("SELECT * FROM comind_outbox.messages").fetchone()
        assert row is not None
        relay.step()
        columns = "id, queue, body, attributes, group_id, dedup_id, delay_seconds, topic"
        conn.execute(f"INSERT INTO comind_outbox.messages ({columns}) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (row[0], None, "once", "{}", None, None, None, "payment-settled"))  # fmt: skip
    relay.step()  # the same row again
    assert [m.body for m in messages.queues.peek("billing/settled.fifo", limit=10)] == ["once"]
    assert len(messages.queues.peek("audit/all", limit=10)) == 0  # no amount: filtered out
