"""Which driver errors mean "an engine is unavailable right now" (not "the request is wrong"),
and which mean "the engine refused a value the request carried".

The API answers the first with 503 and one line, and the CLI retries them briefly: PostgreSQL
restarted by the supervisor is back within about a second. The second are the caller's to fix
(400, with the engine's message). Kept here so that layers above ``stores/`` can recognise
them without importing a driver.
"""

from __future__ import annotations

import psycopg
import psycopg_pool
import redis

POSTGRES_DOWN: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
REDIS_DOWN: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
ENGINE_DOWN = POSTGRES_DOWN + REDIS_DOWN
# a value PostgreSQL cannot take: a NUL character in text, a number out of range, bad bytes
BAD_VALUE: tuple[type[Exception], ...] = (psycopg.DataError,)


def unavailable(exc: BaseException) -> str | None:
    """The engine ``exc`` says is unavailable ("PostgreSQL", "Redis"), else None."""
    if isinstance(exc, POSTGRES_DOWN):
        return "PostgreSQL"
    if isinstance(exc, REDIS_DOWN):
        return "Redis"
    return None


def refused_value(exc: BaseException) -> str | None:
    """The engine's one line when ``exc`` is a value it refused, else None."""
    if isinstance(exc, BAD_VALUE):
        first = (str(exc).strip().splitlines() or [""])[0]
        return f"PostgreSQL refused a value of the request: {first}"
    return None
