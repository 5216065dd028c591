"""A flow's own key (red team 21e G1, G2): its workers reach the object store through the
platform's S3 endpoint with the store the workers use (S3ObjectStore, boto3), only the
buckets the flow declares, and the SQS endpoint refuses the key."""

from __future__ import annotations

import os
from pathlib import Path

import botocore.exceptions
import pytest
from s3kit import client, serving
from test_sqs_endpoint import client as sqs_client

from comind.flows.access import flow_buckets
from comind.platform import Platform
from comind.spec import load_spec
from comind.spec.names import flow_principal
from comind.stores.object_model import ObjectStoreError
from comind.stores.s3_objects import S3ObjectStore

FLOW = flow_principal("daily-revenue")
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def test_a_flows_buckets_are_those_its_source_and_sinks_name() -> None:
    spec = load_spec(SHOP)  # its sink: analytics-lake/revenue/{date}.parquet
    assert flow_buckets(spec, "daily-revenue") == {"analytics-lake": ("revenue/",)}
    assert flow_buckets(spec, "ingest-orders") == {}


def test_the_workers_store_reaches_the_flows_buckets_only(
    runtime: Platform, tmp_path: Path
) -> None:
    owned = {FLOW: ["lake"], "shop-app": ["files"]}
    with serving(runtime, tmp_path / "objects", owned,
                 prefixes={FLOW: {"lake": ("revenue/",)}}) as (url, plain):  # fmt: skip
        plain.put("lake", "private/report.csv", b"the app's own")
        store = S3ObjectStore(client(runtime, url, FLOW), part_size=5 << 20)
        big = os.urandom(6 << 20)  # two parts: a multipart upload through the endpoint
        store.put_stream("lake", "revenue/day=1/part.parquet", [big[: 1 << 20], big[1 << 20 :]])
        store.put("lake", "revenue/day=2/part.parquet", b"small")
        names = [name for name, _ in store.names("lake", "revenue/")]
        assert names == ["revenue/day=1/part.parquet", "revenue/day=2/part.parquet"]
        assert b"".join(store.get_stream("lake", "revenue/day=1/part.parquet")) == big
        assert store.buckets() == ["lake"]
        with pytest.raises(ObjectStoreError):  # another app's bucket does not exist for it
            store.put("files", "x", b"y")


def test_a_flows_key_reaches_only_the_prefixes_its_flow_names(
    runtime: Platform, tmp_path: Path
) -> None:
    """Red team 21f L2: a flow's key reached its whole bucket, not only its sink's folder."""
    owned = {FLOW: ["lake"]}
    with serving(runtime, tmp_path / "objects", owned,
                 prefixes={FLOW: {"lake": ("revenue/",)}}) as (url, plain):  # fmt: skip
        plain.put("lake", "private/report.csv", b"the app's own")
        s3 = client(runtime, url, FLOW)
        s3.put_object(Bucket="lake", Key="revenue/day=1.parquet", Body=b"mine")
        for call in (lambda: s3.get_object(Bucket="lake", Key="private/report.csv"),
                     lambda: s3.put_object(Bucket="lake", Key="private/report.csv", Body=b"x"),
                     lambda: s3.delete_object(Bucket="lake", Key="private/report.csv"),
                     lambda: s3.list_objects_v2(Bucket="lake"),
                     lambda: s3.list_objects_v2(Bucket="lake", Prefix="priv"),
                     lambda: s3.create_multipart_upload(Bucket="lake", Key="private/big"),
                     lambda: s3.copy_object(Bucket="lake", Key="revenue/copy.csv",
                                            CopySource="lake/private/report.csv")):  # fmt: skip
            with pytest.raises(botocore.exceptions.ClientError) as err:
                call()
            assert err.value.response["Error"]["Code"] == "AccessDenied"
        deleted = s3.delete_objects(Bucket="lake", Delete={"Objects": [
            {"Key": "private/report.csv"}, {"Key": "revenue/day=1.parquet"}]})  # fmt: skip
        assert [e["Code"] for e in deleted["Errors"]] == ["AccessDenied"]
        assert [d["Key"] for d in deleted["Deleted"]] == ["revenue/day=1.parquet"]
        listed = s3.list_objects_v2(Bucket="lake", Prefix="revenue/")
        assert listed["KeyCount"] == 0
        assert plain.get("lake", "private/report.csv") == b"the app's own"


def test_the_sqs_endpoint_refuses_a_flows_key(runtime: Platform) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs_client(runtime, FLOW).list_queues()
    assert err.value.response["Error"]["Code"] == "AccessDenied"
