"""Sink adapter for Redis: records written as hashes.

This module owns the Redis commands of the ``redis`` sink: per record a ``DEL`` and
``HSET`` of the key its template names (and an ``EXPIRE`` when the sink has a TTL), all of
a batch in one pipeline. A key is overwritten whole, so a replayed batch rewrites the same
hashes.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from comind.flows.pgsink import Replace, SinkDataError
from comind.flows.records import Record


class RedisSink:
    """Hashes at ``key`` (a template over the record, e.g. ``orders:order:{id}``), with TTL."""

    def __init__(
        self, client: redis.Redis, key: str, *, ttl: int | None = None, name: str = "redis"
    ) -> None:
        self.client, self.key, self.ttl, self.name = client, key, ttl, name

    def write(self, records: list[Record], *, replace: Replace | None = None) -> int:
        with self.client.pipeline(transaction=False) as pipe:
            for record in records:
                key = self._key(record.value)
                pipe.delete(key)
                pipe.hset(
                    key, mapping={k: _flat(v) for k, v in record.value.items() if v is not None}
                )
                if self.ttl:
                    pipe.expire(key, self.ttl)
            pipe.execute()
        return len(records)

    def _key(self, value: dict[str, Any]) -> str:
        try:
            return self.key.format_map(value)
        except KeyError as exc:
            raise SinkDataError(f"redis key {self.key}: the record has no field {exc}") from None


def _flat(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
