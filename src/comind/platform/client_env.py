"""The certificates the processes the platform starts are told to trust: the apps' AWS SDKs
trust the API's own certificate (SQS, S3) when the platform made it; libpq clients (the
platform itself, its tools, flow workers, apps) verify the embedded PostgreSQL against the
engine CA when it takes TLS only (embedded/engine_tls.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comind.embedded.engine_tls import client_env

if TYPE_CHECKING:
    from comind.platform import Platform


def ca_env(rt: Platform) -> dict[str, str]:
    aws = {"AWS_CA_BUNDLE": str(rt.tls.cert)} if rt.tls and rt.tls.generated else {}
    return {**aws, **engine_tls_env(rt)}


def engine_tls_env(rt: Platform) -> dict[str, str]:
    ca = rt.engines.postgres.sslrootcert  # the engine CA's (engine TLS), or an external's
    return client_env(ca) if ca else {}
