"""Cache adapter for Redis: the enrich step's cache-aside entries.

This module owns the Redis commands of the ``enrich`` step: reading a batch's entries in
one ``MGET`` and writing the missing ones, JSON-encoded with a TTL, in one pipeline. Keys
are the caller's (they carry the lookup table's version, so a changed table is never read
from stale entries, which simply expire).
"""

from __future__ import annotations

import json
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
