"""Unmodified boto3 against the platform's S3 endpoint: objects, listings, ranges, errors,
and each app limited to its own buckets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest

from comind.api.s3 import S3Endpoint
from comind.api.server import ApiServer
from comind.embedded.ports import free_port
from comind.platform import Platform
from comind.stores.objects import FileObjectStore

OWNED = {"s3-shop": ["shop-files"], "s3-books": ["books-files"]}


@pytest.fixture(scope="module")
def endpoint(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = FileObjectStore(Path(tmp_path_factory.mktemp("objects")))
    for bucket in ("shop-files", "books-files"):
        store.create_bucket(bucket)
    assert runtime.credentials is not None
    s3 = S3Endpoint(
        store, runtime.credentials, lambda app: dict.fromkeys(OWNED.get(app, []), ("",))
    )
    server = ApiServer(s3, host="127.0.0.1", port=free_port("127.0.0.1"))
    server.start()
    yield server.url
    server.stop()


def client(runtime: Platform, endpoint: str, app: str, secret: str | None = None) -> Any:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure(app)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key.access_key_id,
                        aws_secret_access_key=secret or key.secret)  # fmt: skip


@pytest.fixture(scope="module")
def shop(runtime: Platform, endpoint: str) -> Any:
    return client(runtime, endpoint, "s3-shop")


def code(err: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_put_get_head_delete(shop: Any) -> None:
    put = shop.put_object(Bucket="shop-files", Key="orders/2026/o 1.json", Body=b'{"id": 1}')
    got = shop.get_object(Bucket="shop-files", Key="orders/2026/o 1.json")
    assert got["Body"].read() == b'{"id": 1}'
    assert got["ETag"] == put["ETag"]
    head = shop.head_object(Bucket="shop-files", Key="orders/2026/o 1.json")
    assert head["ContentLength"] == 9
    shop.delete_object(Bucket="shop-files", Key="orders/2026/o 1.json")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        shop.get_object(Bucket="shop-files", Key="orders/2026/o 1.json")
    assert code(err) == "NoSuchKey"


def test_listing_with_prefix_delimiter_and_pages(shop: Any) -> None:
    for key in ("list/a.txt", "list/b.txt", "list/sub/c.txt", "list/sub/d.txt", "other.txt"):
        shop.put_object(Bucket="shop-files", Key=key, Body=key.encode())
    top = shop.list_objects_v2(Bucket="shop-files", Prefix="list/", Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["list/a.txt", "list/b.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["list/sub/"]
    pages = shop.get_paginator("list_objects_v2").paginate(
        Bucket="shop-files", Prefix="list/", PaginationConfig={"PageSize": 2}
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert keys == ["list/a.txt", "list/b.txt", "list/sub/c.txt", "list/sub/d.txt"]
    assert [b["Name"] for b in shop.list_buckets()["Buckets"]] == ["shop-files"]


def test_ranged_get_and_file_transfer(shop: Any, tmp_path: Path) -> None:
    shop.put_object(Bucket="shop-files", Key="range.bin", Body=bytes(range(100)))
    part = shop.get_object(Bucket="shop-files", Key="range.bin", Range="bytes=10-19")
    assert part["Body"].read() == bytes(range(10, 20))
    source = tmp_path / "up.bin"
    source.write_bytes(b"x" * 100_000)
    shop.upload_file(str(source), "shop-files", "files/up.bin")
    shop.download_file("shop-files", "files/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == source.read_bytes()


def test_an_app_cannot_see_another_apps_bucket(runtime: Platform, endpoint: str) -> None:
    books = client(runtime, endpoint, "s3-books")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        books.list_objects_v2(Bucket="shop-files")
    assert code(err) == "NoSuchBucket"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        books.put_object(Bucket="shop-files", Key="x", Body=b"x")
    assert code(err) == "NoSuchBucket"


def test_a_wrong_secret_or_an_altered_body_is_refused(runtime: Platform, endpoint: str) -> None:
    forged = client(runtime, endpoint, "s3-shop", secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        forged.list_objects_v2(Bucket="shop-files")
    assert code(err) == "SignatureDoesNotMatch"
    signed = _signed_put(client(runtime, endpoint, "s3-shop"))
    response = httpx.put(signed["url"], content=b"evil", headers=signed["headers"])
    assert response.status_code == 400 and b"XAmzContentSHA256Mismatch" in response.content


def _signed_put(s3: Any) -> dict[str, Any]:
    """Headers boto3 would send for a PUT of b"good", to replay with another body."""
    captured: dict[str, Any] = {}

    def grab(request: Any, **kwargs: Any) -> None:
        captured["url"], captured["headers"] = request.url, dict(request.headers)
        raise _Stop

    s3.meta.events.register_last("before-send.s3.PutObject", grab)
    with pytest.raises(_Stop):
        s3.put_object(Bucket="shop-files", Key="tamper", Body=b"good")
    s3.meta.events.unregister("before-send.s3.PutObject", grab)
    return captured


class _Stop(Exception):
    pass
