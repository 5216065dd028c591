"""Versions in a bucket whose spec says ``versioning: true``: every PUT gets a version id,
GET/HEAD/DELETE take ``?versionId``, a plain DELETE leaves a delete marker, and
ListObjectVersions shows them all (before, ``GET ?versionId`` returned the current object
and old versions were not kept). A bucket without versioning answers with no version ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from tests.integration.s3kit import client, code, serving, status

from comind.platform import Platform

VERSIONED, PLAIN = "ver-files", "ver-plain"


@pytest.fixture(scope="module")
def s3(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = Path(tmp_path_factory.mktemp("objects"))
    owned = {"ver-shop": [VERSIONED, PLAIN]}
    with serving(runtime, root, owned, versioned=(VERSIONED,)) as (url, _):
        yield client(runtime, url, "ver-shop")


def test_each_put_is_a_version_readable_by_its_id(s3: Any) -> None:
    first = s3.put_object(Bucket=VERSIONED, Key="doc.txt", Body=b"v1", ContentType="text/plain")
    second = s3.put_object(Bucket=VERSIONED, Key="doc.txt", Body=b"v2")
    assert first["VersionId"] != second["VersionId"]
    old = s3.get_object(Bucket=VERSIONED, Key="doc.txt", VersionId=first["VersionId"])
    assert (old["Body"].read(), old["ContentType"]) == (b"v1", "text/plain")
    assert s3.get_object(Bucket=VERSIONED, Key="doc.txt")["Body"].read() == b"v2"
    head = s3.head_object(Bucket=VERSIONED, Key="doc.txt", VersionId=first["VersionId"])
    assert head["VersionId"] == first["VersionId"]
    assert s3.get_bucket_versioning(Bucket=VERSIONED)["Status"] == "Enabled"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=VERSIONED, Key="doc.txt", VersionId="0" * 32)
    assert code(err) == "NoSuchVersion"


def test_a_delete_leaves_a_marker_and_removing_it_brings_the_object_back(s3: Any) -> None:
    put = s3.put_object(Bucket=VERSIONED, Key="gone.txt", Body=b"data")
    deleted = s3.delete_object(Bucket=VERSIONED, Key="gone.txt")
    assert deleted["DeleteMarker"] is True
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=VERSIONED, Key="gone.txt")
    assert code(err) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object(Bucket=VERSIONED, Key="gone.txt", VersionId=deleted["VersionId"])
    assert status(err) == 405  # a delete marker has no bytes
    listing = s3.list_object_versions(Bucket=VERSIONED, Prefix="gone.txt")
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [
        (deleted["VersionId"], True)]  # fmt: skip
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [
        (put["VersionId"], False)]  # fmt: skip
    s3.delete_object(Bucket=VERSIONED, Key="gone.txt", VersionId=deleted["VersionId"])
    assert s3.get_object(Bucket=VERSIONED, Key="gone.txt")["Body"].read() == b"data"


def test_deleting_a_version_removes_only_it(s3: Any) -> None:
    ids = [s3.put_object(Bucket=VERSIONED, Key="many.txt", Body=f"v{n}".encode())["VersionId"]
           for n in range(3)]  # fmt: skip
    s3.delete_object(Bucket=VERSIONED, Key="many.txt", VersionId=ids[1])
    s3.delete_object(Bucket=VERSIONED, Key="many.txt", VersionId=ids[2])  # the current one
    assert s3.get_object(Bucket=VERSIONED, Key="many.txt")["Body"].read() == b"v0"
    versions = s3.list_object_versions(Bucket=VERSIONED, Prefix="many.txt")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(ids[0], True)]
    answer = s3.delete_objects(Bucket=VERSIONED, Delete={"Objects": [
        {"Key": "many.txt", "VersionId": ids[0]}]})  # fmt: skip
    assert answer["Deleted"] == [{"Key": "many.txt", "VersionId": ids[0]}]
    assert "Versions" not in s3.list_object_versions(Bucket=VERSIONED, Prefix="many.txt")


def test_version_listings_page(s3: Any) -> None:
    for n in range(3):
        for key in ("page/a", "page/b"):
            s3.put_object(Bucket=VERSIONED, Key=key, Body=str(n).encode())
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=VERSIONED, Prefix="page/", PaginationConfig={"PageSize": 4})  # fmt: skip
    seen = [(v["Key"], v["IsLatest"]) for p in pages for v in p.get("Versions", [])]
    assert seen == [("page/a", True), ("page/a", False), ("page/a", False),
                    ("page/b", True), ("page/b", False), ("page/b", False)]  # fmt: skip


def test_a_bucket_without_versioning_keeps_one_version(s3: Any) -> None:
    put = s3.put_object(Bucket=PLAIN, Key="one.txt", Body=b"v1")
    assert "VersionId" not in put
    s3.put_object(Bucket=PLAIN, Key="one.txt", Body=b"v2")
    versions = s3.list_object_versions(Bucket=PLAIN)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]
    assert "Status" not in s3.get_bucket_versioning(Bucket=PLAIN)
