"""A session store: a random id (256 bits) per session, its data as JSON in the app's Redis
keys, expiring after ``ttl`` seconds without use (each read extends it)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import redis


class Sessions:
    def __init__(self, client: redis.Redis, prefix: str = "", ttl: float = 3600.0) -> None:
        self.client, self.prefix, self.ttl = client, prefix, ttl

    def create(self, data: dict[str, Any]) -> str:
        """A new session holding ``data``; its id (give it to the client, e.g. a cookie)."""
        sid = secrets.token_urlsafe(32)
        self._write(sid, data)
        return sid

    def get(self, sid: str) -> dict[str, Any] | None:
        """The session's data, None when there is none (expired, deleted, made up); a read
        extends its life."""
        raw = self.client.getex(self._key(sid), px=self._ms())
        found: dict[str, Any] | None = None if raw is None else json.loads(raw)
        return found

    def update(self, sid: str, data: dict[str, Any]) -> bool:
        """Replace the data of a session that exists; False when it does not."""
        return bool(self.client.set(self._key(sid), json.dumps(data, default=str),
                                    px=self._ms(), xx=True))  # fmt: skip

    def delete(self, sid: str) -> None:
        self.client.delete(self._key(sid))

    def _write(self, sid: str, data: dict[str, Any]) -> None:
        self.client.set(self._key(sid), json.dumps(data, default=str), px=self._ms())

    def _key(self, sid: str) -> str:
        return f"{self.prefix}session:{sid}"

    def _ms(self) -> int:
        return max(1, int(self.ttl * 1000))
