"""Which driver errors mean "an engine is unavailable right now" (not "the request is wrong").

The API answers those with 503 and one line, and the CLI retries them briefly: PostgreSQL
restarted by the supervisor is back within about a second. Kept here so that layers above
``stores/`` can recognise them without importing a driver.
"""

from __future__ import annotations

import psycopg
import psycopg_pool
import redis

POSTGRES_DOWN: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
REDIS_DOWN: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
ENGINE_DOWN = POSTGRES_DOWN + REDIS_DOWN


def unavailable(exc: BaseException) -> str | None:
    """The engine ``exc`` says is unavailable ("PostgreSQL", "Redis"), else None."""
    if isinstance(exc, POSTGRES_DOWN):
        return "PostgreSQL"
    if isinstance(exc, REDIS_DOWN):
        return "Redis"
    return None
