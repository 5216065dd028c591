"""What the S3 endpoint tests share: an endpoint over a fresh file store served by the
platform's own server, unmodified boto3 clients signed with an app's key, and raw signed
requests (to replay one with another body)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from comind.api.s3 import S3Endpoint
from comind.api.s3_routes import Reach
from comind.api.server import ApiServer
from comind.api.tls import TlsFiles
from comind.embedded.ports import free_port
from comind.governance.keyring import Keyring
from comind.platform import Platform
from comind.stores.objects import FileObjectStore


@contextmanager
def serving(
    runtime: Platform, root: Path, owned: dict[str, list[str]], *,
    versioned: tuple[str, ...] = (), tls: TlsFiles | None = None, max_object: int | None = None,
    encrypted: tuple[str, ...] = (), prefixes: dict[str, Reach] | None = None,
) -> Iterator[tuple[str, FileObjectStore]]:  # fmt: skip
    """An S3 endpoint over a file store at ``root`` (its keyring beside it) with the buckets
    of ``owned`` (the ``versioned`` ones declared ``versioning: true``, the ``encrypted``
    ones ``encrypted: true``, as the bucket provider records it), each reached whole, or
    only at the key prefixes ``prefixes`` gives a principal."""
    store = FileObjectStore(root, Keyring(root.parent / f"{root.name}-secrets"))
    for bucket in (b for buckets in owned.values() for b in buckets):
        store.create_bucket(bucket)
        config = {"versioning": bucket in versioned, "encrypted": bucket in encrypted}
        store.configure_bucket(bucket, config)
    assert runtime.credentials is not None
    limits = {} if max_object is None else {"max_object": max_object}
    reach = {app: {b: ("",) for b in buckets} for app, buckets in owned.items()}
    reach.update(prefixes or {})
    s3 = S3Endpoint(store, runtime.credentials, lambda app: reach.get(app, {}), **limits)
    server = ApiServer(s3, host="127.0.0.1", port=free_port("127.0.0.1"), tls=tls)
    server.start()
    try:
        yield server.url, store
    finally:
        server.stop()


def client(
    runtime: Platform, endpoint: str, app: str, *, secret: str | None = None,
    verify: str | bool = True, **config: Any,
) -> Any:  # fmt: skip
    assert runtime.credentials is not None
    key = runtime.credentials.ensure(app)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key.access_key_id,
                        aws_secret_access_key=secret or key.secret, verify=verify,
                        config=botocore.config.Config(**config))  # fmt: skip


def code(err: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def status(err: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> int:
    return int(err.value.response["ResponseMetadata"]["HTTPStatusCode"])


def captured(s3: Any, operation: str, **params: Any) -> dict[str, Any]:
    """The URL, method and headers boto3 would send for ``operation`` (not sent)."""
    seen: dict[str, Any] = {}

    def grab(request: Any, **kwargs: Any) -> None:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        seen.update(url=request.url, method=request.method, headers=headers)
        raise _Stop

    event = f"before-send.s3.{operation}"
    s3.meta.events.register_last(event, grab)
    try:
        getattr(s3, _snake(operation))(**params)
    except _Stop:
        pass
    finally:
        s3.meta.events.unregister(event, grab)
    return seen


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class _Stop(Exception):
    pass
