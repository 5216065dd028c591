"""Cache adapter for Redis: the enrich step's cache-aside entries and the cleanse step's
dedupe window.

This module owns the Redis commands of the ``enrich`` step: reading a batch's entries in
one ``MGET`` and writing the missing ones, JSON-encoded with a TTL, in one pipeline. Keys
are the caller's (they carry the lookup table's version, so a changed table is never read
from stale entries, which simply expire). And the ``cleanse`` step's window: the keys of the
records delivered within it, one Redis key each (a digest of the record's key) that expires
with the window, so every worker of a flow, on any host and after any restart, sees them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import redis


class LookupCache:
    """JSON values under ``prefix + value`` keys, each with a time to live."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def get(self, prefix: str, values: list[str]) -> dict[str, Any]:
        """The cached entries among ``values`` (a cached None is an entry too)."""
        cached = self.client.mget([prefix + v for v in values])
        return {v: json.loads(c) for v, c in zip(values, cached, strict=True) if c is not None}

    def put(self, prefix: str, values: list[str], rows: dict[str, Any], ttl: timedelta) -> None:
        """Store the row of each of ``values`` (None where ``rows`` has none)."""
        with self.client.pipeline(transaction=False) as pipe:
            for v in values:
                pipe.set(prefix + v, json.dumps(rows.get(v)), ex=ttl)
            pipe.execute()


class RedisWindow:
    """The keys delivered within the last ``seconds``, under ``prefix`` in Redis."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client, self.prefix = client, prefix

    def seen(self, keys: list[str]) -> set[str]:
        """Those of ``keys`` delivered within the window."""
        if not keys:
            return set()
        found = self.client.mget([self._name(k) for k in keys])
        return {k for k, hit in zip(keys, found, strict=True) if hit is not None}

    def mark(self, keys: Iterable[str], seconds: float) -> None:
        """``keys`` delivered now: seen for ``seconds``."""
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(self._name(key), b"1", px=max(1, int(seconds * 1000)))
            pipe.execute()

    def _name(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()[:32]
