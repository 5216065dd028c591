"""One object-store contract over every backend (issue 19): the file store (a directory),
the S3 backend against moto's server (the API double of AWS S3), the S3 backend against
this platform's own S3 endpoint, a bucket routed to a prefix of another bucket on moto
(how the backup store goes to S3), and buckets on moto named with a prefix (how every bucket
of the platform's goes to S3); the S3 servers must agree with the file store.

Bucket settings (versioning, noncurrent-version expiry, default encryption) are S3 bucket
calls the platform's endpoint does not serve (there the spec sets them), so those tests run
on the file store and moto only."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from s3kit import client, serving

from comind.platform import Platform
from comind.stores.object_model import (
    Attributes,
    Condition,
    NoSuchObject,
    NoSuchUpload,
    ObjectStoreError,
    PreconditionFailed,
)
from comind.stores.object_store import ObjectStore
from comind.stores.objects import FileObjectStore
from comind.stores.routed_objects import Route, RoutedStore
from comind.stores.s3_objects import PART_SIZE, S3ObjectStore

MIB = 1 << 20


@dataclass(frozen=True)
class Backend:
    name: str
    store: ObjectStore
    bucket: str


@pytest.fixture(params=["file", "moto", "platform", "routed", "named"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with _opened(request, tmp_path) as opened:
        yield opened


@pytest.fixture(params=["file", "moto", "named"])
def configurable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backends whose bucket settings are S3 bucket calls (not the platform's)."""
    with _opened(request, tmp_path) as opened:
        yield opened


@contextmanager
def _opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    bucket = f"c-{uuid.uuid4().hex[:12]}"
    if request.param == "file":
        files = FileObjectStore(tmp_path / "objects")
        files.create_bucket(bucket)
        yield Backend("file", files, bucket)
    elif request.param == "named":  # every bucket of the platform's on S3, names prefixed
        store = _moto(request)
        store.create_bucket(bucket)  # S3's, beside the platform's: never listed as its own
        named = RoutedStore(store, {}, name_prefix=f"{bucket}-")
        named.create_bucket("data")
        assert named.buckets() == ["data"] and f"{bucket}-data" in store.buckets()
        yield Backend("named", named, "data")
        named.delete_bucket("data")
        store.delete_bucket(bucket)
    elif request.param in ("moto", "routed"):
        store = _moto(request)
        store.create_bucket(bucket)
        if request.param == "moto":
            yield Backend("moto", store, bucket)
        else:  # the contract's bucket is a prefix of the moto bucket; others stay on files
            store.put(bucket, "team/a", b"beside the prefix: never listed nor touched")
            routes = {"routed": Route(store, bucket, "team/a/")}
            routed = RoutedStore(FileObjectStore(tmp_path / "objects"), routes)
            yield Backend("routed", routed, "routed")
            assert store.get(bucket, "team/a") == b"beside the prefix: never listed nor touched"
        store.delete_bucket(bucket)
    else:
        runtime: Platform = request.getfixturevalue("runtime")
        app = f"a{uuid.uuid4().hex[:8]}"
        with serving(runtime, tmp_path / "served", {app: [bucket]}) as (url, _):
            yield Backend("platform", S3ObjectStore(client(runtime, url, app)), bucket)


def _moto(request: pytest.FixtureRequest) -> S3ObjectStore:
    s3 = boto3.client("s3", endpoint_url=request.getfixturevalue("moto_url"),
                      region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")  # fmt: skip
    return S3ObjectStore(s3)


def blocks(count: int, size: int = MIB) -> Iterator[bytes]:
    for n in range(count):
        yield bytes([n % 251]) * size


def test_a_big_object_streams_in_as_parts_and_out_block_by_block(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    count = 2 * PART_SIZE // MIB + 3  # over two parts of the S3 backend
    want = hashlib.sha256(b"".join(blocks(count))).hexdigest()
    info = store.put_stream(bucket, "big/one.bin", blocks(count))
    assert info.size == count * MIB
    digest, sizes = hashlib.sha256(), []
    for block in store.get_stream(bucket, "big/one.bin", chunk=MIB):
        digest.update(block)
        sizes.append(len(block))
    assert digest.hexdigest() == want and sizes == [MIB] * count
    assert not list(store.uploads(bucket))  # the multipart upload is gone once complete


def test_a_small_object_keeps_its_attributes(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    attributes = Attributes("text/csv", {"owner": "orders"}, {"tier": "gold"})
    store.put_stream(bucket, "a/b.csv", [b"n,total\n", b"1,5\n"], attributes=attributes)
    info = store.head(bucket, "a/b.csv")
    assert info is not None and info.size == 12
    assert info.etag == hashlib.md5(b"n,total\n1,5\n", usedforsecurity=False).hexdigest()
    got = info.attributes
    assert (got.content_type, dict(got.metadata), dict(got.tags)) == (
        "text/csv", {"owner": "orders"}, {"tier": "gold"})  # fmt: skip
    assert store.get(bucket, "a/b.csv") == b"n,total\n1,5\n"
    tagged = store.set_tags(bucket, "a/b.csv", {"tier": "silver"})
    assert dict(tagged.attributes.tags) == {"tier": "silver"}


def test_listing_by_prefix_and_deleting(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    for key in ("logs/1", "logs/2", "data/1"):
        store.put(bucket, key, key.encode())
    assert [i.key for i in store.list(bucket, "logs/")] == ["logs/1", "logs/2"]
    assert [k for k, _ in store.names(bucket)] == ["data/1", "logs/1", "logs/2"]
    store.delete(bucket, "logs/1")
    store.delete(bucket, "logs/1")  # idempotent
    assert store.head(bucket, "logs/1") is None
    with pytest.raises(NoSuchObject):
        store.get(bucket, "logs/1")


def test_a_conditional_write_refuses_what_the_condition_forbids(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    first = store.put_stream(bucket, "once", [b"first"], condition=Condition(if_none_match="*"))
    with pytest.raises(PreconditionFailed):
        store.put_stream(bucket, "once", [b"second"], condition=Condition(if_none_match="*"))
    with pytest.raises(PreconditionFailed):
        store.put_stream(bucket, "once", [b"third"], condition=Condition(if_match="0" * 32))
    store.put_stream(bucket, "once", [b"fourth"], condition=Condition(if_match=first.etag))
    assert store.get(bucket, "once") == b"fourth"


def test_a_multipart_upload_completes_in_part_order_or_aborts_to_nothing(
    backend: Backend,
) -> None:
    store, bucket = backend.store, backend.bucket
    upload = store.create_multipart(bucket, "mp.bin")
    second = store.upload_part(bucket, "mp.bin", upload, 2, [b"tail"])
    first = store.upload_part(bucket, "mp.bin", upload, 1, blocks(5))
    assert [p.number for p in store.parts(bucket, "mp.bin", upload)] == [1, 2]
    assert [u.upload_id for u in store.uploads(bucket)] == [upload]
    info = store.complete_multipart(bucket, "mp.bin", upload, [first, second])
    assert info.size == 5 * MIB + 4
    assert store.get(bucket, "mp.bin") == b"".join(blocks(5)) + b"tail"
    dropped = store.create_multipart(bucket, "gone.bin")
    store.upload_part(bucket, "gone.bin", dropped, 1, [b"x"])
    store.abort_multipart(bucket, "gone.bin", dropped)
    assert store.head(bucket, "gone.bin") is None
    with pytest.raises(NoSuchUpload):
        store.parts(bucket, "gone.bin", dropped)


def test_an_opened_object_never_mixes_with_its_replacement(backend: Backend) -> None:
    store, bucket = backend.store, backend.bucket
    store.put(bucket, "r", b"a" * (3 * MIB))
    opened = store.open(bucket, "r")
    store.put(bucket, "r", b"b" * (3 * MIB))
    try:
        data = b"".join(opened.blocks(chunk=MIB))
    except ObjectStoreError:
        return  # refused, as S3 refuses a read pinned to the replaced etag
    assert data == b"a" * (3 * MIB)  # or the bytes it had when opened, whole


def test_a_versioned_bucket_keeps_replaced_and_deleted_versions(configurable: Backend) -> None:
    store, bucket = configurable.store, configurable.bucket
    store.configure_bucket(bucket, {"versioning": True, "encrypted": False})
    old = store.put(bucket, "v", b"old")
    store.put(bucket, "v", b"new")
    deleted = store.delete(bucket, "v")
    assert deleted.delete_marker and deleted.version_id
    listed = list(store.versions(bucket))
    assert sorted((v.info.delete_marker, v.latest) for v in listed) == [
        (False, False), (False, False), (True, True)]  # fmt: skip
    assert old.version_id is not None
    assert b"".join(store.open(bucket, "v", version_id=old.version_id).blocks()) == b"old"
    assert store.head(bucket, "v") is None


def test_bucket_settings_read_back_as_set(configurable: Backend) -> None:
    store, bucket = configurable.store, configurable.bucket
    config = {"versioning": True, "encrypted": True,
              "versions": {"keep_for": 30 * 86400, "keep_newest": 3}}  # fmt: skip
    store.configure_bucket(bucket, config)
    got = store.bucket_config(bucket)
    assert got is not None
    if configurable.name in ("moto", "named"):  # moto keeps no NewerNoncurrentVersions
        got["versions"]["keep_newest"] = 3
    assert got == config
    assert bucket in store.buckets()
    assert store.bucket_config("c-never-made-" + uuid.uuid4().hex[:8]) is None
