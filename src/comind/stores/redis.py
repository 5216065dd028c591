"""Connections to Redis (the embedded server or any Redis/Valkey)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias
from urllib.parse import quote

import redis

from comind.embedded.redis import RedisEngine

RedisClient: TypeAlias = redis.Redis  # for modules that hold a client without using the driver


@dataclass(frozen=True)
class RedisTarget:
    """Where a Redis server is and how to log in (``repr`` hides the password)."""

    host: str
    port: int
    password: str = field(repr=False)
    username: str = "default"
    db: int = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self) -> str:
        """A ``redis://`` URL including the password, for an app's environment."""
        user, password = quote(self.username, safe=""), quote(self.password, safe="")
        return f"redis://{user}:{password}@{self.host}:{self.port}/{self.db}"


def client(target: RedisTarget, *, timeout: float = 5.0) -> RedisClient:
    return redis.Redis(
        host=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        db=target.db,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
    )


def default_user(engine: RedisEngine) -> RedisTarget:
    """The default-user target of the embedded Redis server."""
    return RedisTarget(engine.host, engine.port, engine.password)
