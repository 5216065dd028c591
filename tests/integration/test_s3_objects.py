"""Object operations through unmodified boto3, as S3 answers them: Content-Type and user
metadata kept (before, every object read back as application/octet-stream without
metadata), conditional requests, ranges, CopyObject with its directives, DeleteObjects, and
listings with prefix, delimiter, continuation and URL-encoded keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from tests.integration.s3kit import client, code, serving, status

from comind.platform import Platform
from comind.spec.names import BACKUP_BUCKET
from comind.stores.objects import FileObjectStore

BUCKET, OTHER, SEALED = "obj-files", "obj-other", "obj-sealed"
OBJECTS: list[Path] = []  # the store's root the module's endpoint serves


@pytest.fixture(scope="module")
def s3(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = Path(tmp_path_factory.mktemp("objects"))
    OBJECTS[:] = [root]
    owned = {"obj-shop": [BUCKET, SEALED], "obj-else": [OTHER]}
    with serving(runtime, root, owned, encrypted=(SEALED,)) as (url, _):
        yield client(runtime, url, "obj-shop")


def test_content_type_and_user_metadata_are_stored_and_returned(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="notes/a.txt", Body=b"hello", ContentType="text/plain",
                  Metadata={"owner": "shop", "Run-Id": "42"})  # fmt: skip
    for answer in (s3.get_object(Bucket=BUCKET, Key="notes/a.txt"),
                   s3.head_object(Bucket=BUCKET, Key="notes/a.txt")):  # fmt: skip
        assert answer["ContentType"] == "text/plain"
        assert answer["Metadata"] == {"owner": "shop", "run-id": "42"}
        assert answer["ContentLength"] == 5
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="notes/big-meta", Body=b"x", Metadata={"m": "v" * 3000})
    assert code(err) == "MetadataTooLarge"


def test_conditional_gets_answer_412_and_304(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="cond.txt", Body=b"v1")["ETag"]
    modified = s3.head_object(Bucket=BUCKET, Key="cond.txt")["LastModified"]
    assert s3.get_object(Bucket=BUCKET, Key="cond.txt", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=BUCKET, Key="cond.txt", IfMatch='"0000"')
    assert status(err) == 412
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=BUCKET, Key="cond.txt", IfNoneMatch=etag)
    assert status(err) == 304
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=BUCKET, Key="cond.txt", IfModifiedSince=modified)
    assert status(err) == 304
    earlier = modified - timedelta(hours=1)
    assert s3.get_object(Bucket=BUCKET, Key="cond.txt", IfModifiedSince=earlier)["Body"].read()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.head_object(Bucket=BUCKET, Key="cond.txt", IfUnmodifiedSince=earlier)
    assert status(err) == 412


def test_conditional_puts_refuse_to_overwrite(s3: Any) -> None:
    etag = s3.put_object(Bucket=BUCKET, Key="once.txt", Body=b"first", IfNoneMatch="*")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="once.txt", Body=b"second", IfNoneMatch="*")
    assert code(err) == "PreconditionFailed"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="once.txt", Body=b"second", IfMatch='"0000"')
    assert code(err) == "PreconditionFailed"
    s3.put_object(Bucket=BUCKET, Key="once.txt", Body=b"third", IfMatch=etag)
    assert s3.get_object(Bucket=BUCKET, Key="once.txt")["Body"].read() == b"third"


def test_ranges_and_an_unsatisfiable_range(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="range.bin", Body=bytes(range(100)))
    got = s3.get_object(Bucket=BUCKET, Key="range.bin", Range="bytes=90-")
    assert (got["Body"].read(), got["ContentRange"]) == (bytes(range(90, 100)), "bytes 90-99/100")
    assert s3.get_object(Bucket=BUCKET, Key="range.bin", Range="bytes=-3")["Body"].read() == \
        bytes([97, 98, 99])  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=BUCKET, Key="range.bin", Range="bytes=100-200")
    assert code(err) == "InvalidRange"


def test_copy_keeps_or_replaces_metadata_and_tags(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="src.csv", Body=b"a,b\n", ContentType="text/csv",
                  Metadata={"origin": "etl"}, Tagging="stage=raw")  # fmt: skip
    s3.copy_object(Bucket=BUCKET, Key="copy.csv", CopySource={"Bucket": BUCKET, "Key": "src.csv"})
    kept = s3.get_object(Bucket=BUCKET, Key="copy.csv")
    assert (kept["Body"].read(), kept["ContentType"], kept["Metadata"]) == \
        (b"a,b\n", "text/csv", {"origin": "etl"})  # fmt: skip
    assert s3.get_object_tagging(Bucket=BUCKET, Key="copy.csv")["TagSet"] == [
        {"Key": "stage", "Value": "raw"}]  # fmt: skip
    s3.copy_object(Bucket=BUCKET, Key="src.csv", CopySource=f"{BUCKET}/src.csv",
                   MetadataDirective="REPLACE", ContentType="text/plain",
                   Metadata={"origin": "fixed"}, TaggingDirective="REPLACE",
                   Tagging="stage=clean")  # fmt: skip
    replaced = s3.head_object(Bucket=BUCKET, Key="src.csv")
    assert (replaced["ContentType"], replaced["Metadata"]) == ("text/plain", {"origin": "fixed"})
    assert s3.get_object_tagging(Bucket=BUCKET, Key="src.csv")["TagSet"] == [
        {"Key": "stage", "Value": "clean"}]  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="src.csv", CopySource=f"{BUCKET}/src.csv")
    assert code(err) == "InvalidRequest"  # onto itself, changing nothing


def test_copy_from_another_apps_bucket_or_a_missing_key_is_refused(
    runtime: Platform, s3: Any
) -> None:
    other = client(runtime, s3.meta.endpoint_url, "obj-else")
    other.put_object(Bucket=OTHER, Key="secret.txt", Body=b"not yours")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="stolen.txt", CopySource=f"{OTHER}/secret.txt")
    assert code(err) == "NoSuchBucket"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="x.txt", CopySource=f"{BUCKET}/no-such-key")
    assert code(err) == "NoSuchKey"


def test_no_app_key_reaches_the_backup_store(runtime: Platform, s3: Any) -> None:
    """The backups live in the same object store as the apps' buckets: an app may not list,
    read, overwrite or delete them (issue 21: the backup store is write-once for apps)."""
    backups = FileObjectStore(OBJECTS[0])  # the store the endpoint serves
    backups.create_bucket(BACKUP_BUCKET)
    backups.put(BACKUP_BUCKET, "wal/000000010000000000000001.cmb", b"archived")  # as shipped
    wal = "wal/000000010000000000000001.cmb"
    attempts = [
        lambda: s3.list_objects_v2(Bucket=BACKUP_BUCKET),
        lambda: s3.get_object(Bucket=BACKUP_BUCKET, Key=wal),
        lambda: s3.put_object(Bucket=BACKUP_BUCKET, Key=wal, Body=b"forged"),
        lambda: s3.delete_object(Bucket=BACKUP_BUCKET, Key=wal),
        lambda: s3.copy_object(Bucket=BUCKET, Key="copy", CopySource=f"{BACKUP_BUCKET}/{wal}"),
    ]
    for attempt in attempts:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            attempt()
        assert code(err) in ("NoSuchBucket", "AccessDenied"), code(err)
    assert backups.get(BACKUP_BUCKET, wal) == b"archived"


def test_delete_objects_deletes_many_and_reports_each(s3: Any) -> None:
    keys = [f"batch/{n}.json" for n in range(5)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [
        {"Key": k} for k in [*keys, "batch/never-was.json"]]})  # fmt: skip
    assert sorted(d["Key"] for d in answer["Deleted"]) == sorted([*keys, "batch/never-was.json"])
    assert "Errors" not in answer
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="batch/")["KeyCount"] == 0
    quiet = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "batch/0.json"}],
                                                      "Quiet": True})  # fmt: skip
    assert "Deleted" not in quiet


def test_listing_pages_through_prefixes_and_odd_keys(s3: Any) -> None:
    keys = ["odd/a b.txt", "odd/a+b.txt", "odd/d/1", "odd/d/2", "odd/e/1", "odd/z%.txt"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="odd/", Delimiter="/", PaginationConfig={"PageSize": 2}))  # fmt: skip
    found = [o["Key"] for p in pages for o in p.get("Contents", [])]
    common = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert (found, common) == (["odd/a b.txt", "odd/a+b.txt", "odd/z%.txt"], ["odd/d/", "odd/e/"])
    assert len(pages) == 3
    v1 = s3.list_objects(Bucket=BUCKET, Prefix="odd/", MaxKeys=3)
    assert [o["Key"] for o in v1["Contents"]] == keys[:3] and v1["IsTruncated"]


def test_an_encrypted_bucket_stores_ciphertext_and_serves_plaintext_ranges(
    s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    body = b"".join(b"SECRET-%06d;" % n for n in range(30_000))  # 420 KB: 7 chunks
    etag = s3.put_object(Bucket=SEALED, Key="k/plain.txt", Body=body)["ETag"]
    stored = next(tmp_path_factory.getbasetemp().glob(f"objects*/{SEALED}/k/plain.txt"))
    assert b"SECRET-" not in stored.read_bytes()
    head = s3.head_object(Bucket=SEALED, Key="k/plain.txt")
    assert (head["ContentLength"], head["ETag"]) == (len(body), etag)
    got = s3.get_object(Bucket=SEALED, Key="k/plain.txt", Range="bytes=65530-200000")
    assert got["Body"].read() == body[65530:200001]
    s3.copy_object(
        Bucket=SEALED, Key="copy.txt", CopySource={"Bucket": SEALED, "Key": "k/plain.txt"}
    )
    assert s3.get_object(Bucket=SEALED, Key="copy.txt")["Body"].read() == body
    raw = bytearray(stored.read_bytes())
    raw[100] ^= 1  # inside the first chunk
    stored.write_bytes(bytes(raw))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=SEALED, Key="k/plain.txt")
    assert status(err) == 500 and "does not authenticate" in str(err.value)
