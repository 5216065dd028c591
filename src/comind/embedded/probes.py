"""Health probes: does an engine answer a real, authenticated request?

They live here, below ``stores``, because the supervisor needs them to judge an
engine; ``stores`` reuses them for its own ``ping``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import redis


def postgres_version(conninfo: str, *, timeout: float = 2.0) -> str | None:
    """The server version when a login and ``SHOW server_version`` succeed, else None."""
    return postgres_probe(conninfo, timeout=timeout)[0]


def postgres_probe(conninfo: str, *, timeout: float = 2.0) -> tuple[str | None, str]:
    """(the server version, "") when a login and ``SHOW server_version`` succeed, else
    (None, why: the server's message, or the driver's)."""
    try:
        with psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return None, str(exc)
    return (str(row[0]).split()[0] if row else None), ""


def redis_version(
    host: str, port: int, password: str, *, ca: Path | None = None, timeout: float = 2.0,
    username: str = "default",
) -> str | None:  # fmt: skip
    """The server version when an authenticated ``INFO server`` succeeds (over TLS verified
    against ``ca`` when given), else None."""
    try:
        with redis.Redis(
            host=host,
            port=port,
            username=username,
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            **tls_options(ca),
        ) as conn:
            info = conn.info("server")
    except (redis.RedisError, OSError):
        return None
    return str(info.get("redis_version", "")) or None


def tls_options(ca: Path | None) -> dict[str, Any]:
    """redis-py's arguments for a server that takes TLS only, verified against ``ca``."""
    if ca is None:
        return {}
    return {"ssl": True, "ssl_ca_certs": str(ca), "ssl_cert_reqs": "required",
            "ssl_check_hostname": True}  # fmt: skip
