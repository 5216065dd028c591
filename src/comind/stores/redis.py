"""Connections to Redis (the embedded server or any Redis/Valkey)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeAlias
from urllib.parse import quote

import redis

from comind.embedded.external import RedisServer
from comind.embedded.probes import tls_options

RedisClient: TypeAlias = redis.Redis  # for modules that hold a client without using the driver
TLS_QUERY = "ssl_cert_reqs=required&ssl_check_hostname=true&ssl_ca_certs="  # then the CA's path


@dataclass(frozen=True)
class RedisTarget:
    """Where a Redis server is and how to log in (``repr`` hides the password)."""

    host: str
    port: int
    password: str = field(repr=False)
    username: str = "default"
    db: int = 0
    ca: Path | None = None  # the server takes TLS only, verified against this CA

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def login(self, username: str, password: str) -> RedisTarget:
        """The same server (and its TLS) as another user."""
        return replace(self, username=username, password=password)

    def url(self) -> str:
        """A ``redis://`` URL including the password, for an app's environment; with TLS
        ``rediss://`` naming the CA to verify the server against (redis-py's ``from_url``
        takes the query as arguments)."""
        user, password = quote(self.username, safe=""), quote(self.password, safe="")
        where = f"{user}:{password}@{self.host}:{self.port}/{self.db}"
        if self.ca is None:
            return f"redis://{where}"
        return f"rediss://{where}?{TLS_QUERY}{quote(str(self.ca), safe='/')}"


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
        **tls_options(target.ca),
    )


def default_user(engine: RedisServer) -> RedisTarget:
    """The administrator's target of the platform's Redis server (embedded: the default
    user; external: the user its URL names)."""
    return RedisTarget(engine.host, engine.port, engine.password, engine.user,
                       ca=engine.client_ca)  # fmt: skip
