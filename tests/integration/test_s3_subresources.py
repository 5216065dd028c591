"""The S3 endpoint chooses the operation by the query string's sub-resources (issue 15,
finding 6): the ones it serves behave as S3's (object tagging here), every other answers
NotImplemented (501) and leaves the object exactly as it was. Before, ``PUT ?tagging``
overwrote the object with the XML, ``DELETE ?tagging`` deleted it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from tests.integration.s3kit import client, code, serving, status

from comind.platform import Platform

BUCKET = "sub-files"
BODY = b'{"order": 1}'


@pytest.fixture(scope="module")
def s3(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("objects")
    with serving(runtime, Path(root), {"sub-shop": [BUCKET]}) as (url, _):
        yield client(runtime, url, "sub-shop")


@pytest.fixture
def key(s3: Any, request: pytest.FixtureRequest) -> str:
    name = f"intact/{request.node.name}.json"
    s3.put_object(Bucket=BUCKET, Key=name, Body=BODY, ContentType="application/json",
                  Metadata={"source": "test"}, Tagging="team=shop")  # fmt: skip
    return name


def intact(s3: Any, key: str) -> None:
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == BODY
    assert (got["ContentType"], got["Metadata"]) == ("application/json", {"source": "test"})
    assert s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == [
        {"Key": "team", "Value": "shop"}
    ]


def test_object_tagging_is_read_replaced_and_removed_without_touching_the_bytes(
    s3: Any, key: str
) -> None:
    assert s3.get_object(Bucket=BUCKET, Key=key)["TagCount"] == 1
    s3.put_object_tagging(Bucket=BUCKET, Key=key, Tagging={"TagSet": [
        {"Key": "stage", "Value": "raw"}, {"Key": "pii", "Value": "no"}]})  # fmt: skip
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("pii", "no"), ("stage", "raw")]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == BODY
    s3.delete_object_tagging(Bucket=BUCKET, Key=key)
    assert s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == []
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == BODY and got["Metadata"] == {"source": "test"}


def test_tagging_a_missing_object_or_with_bad_tags_is_refused(s3: Any, key: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.get_object_tagging(Bucket=BUCKET, Key="intact/none.json")
    assert code(err) == "NoSuchKey"
    eleven = [{"Key": f"k{n}", "Value": "v"} for n in range(11)]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object_tagging(Bucket=BUCKET, Key=key, Tagging={"TagSet": eleven})
    assert status(err) == 400
    intact(s3, key)


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("put_object_acl", {"ACL": "public-read"}),
    ("get_object_acl", {}),
    ("put_object_legal_hold", {"LegalHold": {"Status": "ON"}}),
    ("get_object_legal_hold", {}),
    ("put_object_retention", {"Retention": {"Mode": "GOVERNANCE",
                                            "RetainUntilDate": "2030-01-01T00:00:00Z"}}),
    ("get_object_retention", {}),
    ("get_object_torrent", {}),
    ("get_object_attributes", {"ObjectAttributes": ["ETag"]}),
    ("restore_object", {"RestoreRequest": {"Days": 1}}),
    ("select_object_content", {"Expression": "select * from s3object", "ExpressionType": "SQL",
                               "InputSerialization": {"JSON": {"Type": "LINES"}},
                               "OutputSerialization": {"JSON": {}}}),
    ("get_object", {"PartNumber": 1}),
    ("upload_part_copy", {"CopySource": f"{BUCKET}/x", "PartNumber": 1,
                          "UploadId": "0" * 32}),
]  # fmt: skip


@pytest.mark.parametrize(("call", "params"), REFUSED, ids=[c for c, _ in REFUSED])
def test_an_object_sub_resource_not_served_is_refused_and_the_object_intact(
    s3: Any, key: str, call: str, params: dict[str, Any]
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        getattr(s3, call)(Bucket=BUCKET, Key=key, **params)
    assert (code(err), status(err)) == ("NotImplemented", 501)
    intact(s3, key)


BUCKET_REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("put_bucket_policy", {"Policy": '{"Statement": []}'}),
    ("get_bucket_policy", {}),
    ("delete_bucket_policy", {}),
    ("put_bucket_cors", {"CORSConfiguration": {"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}}),
    ("delete_bucket_cors", {}),
    ("put_bucket_lifecycle_configuration", {"LifecycleConfiguration": {"Rules": [
        {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}}),
    ("delete_bucket_lifecycle", {}),
    ("put_bucket_acl", {"ACL": "public-read"}),
    ("put_bucket_versioning", {"VersioningConfiguration": {"Status": "Suspended"}}),
    ("put_object_lock_configuration", {"ObjectLockConfiguration": {
        "ObjectLockEnabled": "Enabled"}}),
    ("delete_bucket", {}),
]  # fmt: skip


@pytest.mark.parametrize(("call", "params"), BUCKET_REFUSED, ids=[c for c, _ in BUCKET_REFUSED])
def test_a_bucket_sub_resource_not_served_is_refused_and_the_bucket_intact(
    s3: Any, key: str, call: str, params: dict[str, Any]
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        getattr(s3, call)(Bucket=BUCKET, **params)
    assert (code(err), status(err)) == ("NotImplemented", 501)
    intact(s3, key)


def test_a_sub_resource_on_a_bucket_of_another_app_is_no_bucket_not_501(
    runtime: Platform, s3: Any
) -> None:
    other = client(runtime, s3.meta.endpoint_url, "sub-other")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        other.get_bucket_policy(Bucket=BUCKET)
    assert code(err) == "NoSuchBucket"
