"""Counters and rate limits over the app's Redis keys.

``Counter`` is an atomic number (``INCRBY``). ``RateLimit`` allows at most ``limit`` events
per ``per`` seconds for each key (a user, an IP): a sliding window kept as a sorted set of
the events' times, checked and recorded in one script, so concurrent callers never get more
than the limit between them.
"""

from __future__ import annotations

import secrets
import time

import redis


class Counter:
    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client, self.name = client, name

    def incr(self, by: int = 1) -> int:
        return int(self.client.incrby(self.name, by))

    def value(self) -> int:
        return int(self.client.get(self.name) or 0)


class RateLimit:
    def __init__(self, client: redis.Redis, name: str, limit: int, per: float) -> None:
        if limit < 1 or per <= 0:
            raise ValueError("a rate limit needs limit >= 1 and per > 0 seconds")
        self.client, self.name, self.limit, self.per = client, name, limit, per

    def allow(self, key: str) -> bool:
        """Whether one more event of ``key`` fits now (it is counted when it does)."""
        now_ms = int(time.time() * 1000)
        member = f"{now_ms}:{secrets.token_hex(4)}"
        window = int(self.per * 1000)
        return bool(self.client.eval(ALLOW, 1, f"{self.name}:{key}", now_ms, window,
                                     self.limit, member))  # fmt: skip


ALLOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
