"""What apps import: their services from the environment the platform gives them, a Redis
cache with stampede protection, locks with fencing tokens, and the transactional outbox.

    from comind import sdk

    env = sdk.AppEnv.from_environ()
    cache = sdk.Cache.of(env)
    price = cache.get_or_set(f"price:{sku}", lambda: load_price(sku))
    with sdk.Lock(env.redis(), env.key_prefix + "nightly-report") as token:
        ...                                   # guarded work, fenced with ``token``
    with psycopg.connect(env.database_url) as conn:
        conn.execute("INSERT INTO orders ...")
        sdk.outbox.send(conn, "order-events", body)  # delivered iff the transaction commits
        sdk.events.publish(conn, "order-placed", body, attributes={"country": "NL"})

Other languages reach the same things through Redis, PostgreSQL and the platform's SQS and
S3 endpoints (docs/sdk.md).
"""

from comind.sdk import events, outbox, queues
from comind.sdk.cache import Cache
from comind.sdk.counters import Counter, RateLimit
from comind.sdk.env import AppEnv
from comind.sdk.locks import Fence, Lock, LockTimeout
from comind.sdk.query_cache import QueryCache
from comind.sdk.sessions import Sessions

__all__ = [
    "AppEnv",
    "Cache",
    "Counter",
    "Fence",
    "Lock",
    "LockTimeout",
    "QueryCache",
    "RateLimit",
    "Sessions",
    "events",
    "outbox",
    "queues",
]
