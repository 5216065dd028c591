"""Multipart upload through boto3 and the AWS CLI as a new user runs them (issue 15,
finding 13: ``aws s3 cp`` of 20 MB failed without multipart upload, ``aws s3 rm
--recursive`` got a 500 when two deletes raced), and object operations that stay correct
when clients run them concurrently."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from tests.integration.s3kit import client, code, serving

from comind.platform import Platform

BUCKET = "mp-files"
AWS = str(Path(sys.executable).parent / "aws")  # the test extra's awscli, not another on PATH
MIB = 1 << 20


@pytest.fixture(scope="module")
def endpoint(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = Path(tmp_path_factory.mktemp("objects"))
    with serving(runtime, root, {"mp-shop": [BUCKET]}) as (url, _):
        yield url


@pytest.fixture(scope="module")
def s3(runtime: Platform, endpoint: str) -> Any:
    return client(runtime, endpoint, "mp-shop")


@pytest.fixture(scope="module")
def aws(runtime: Platform, endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure("mp-shop")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path_factory.mktemp("home")),
           "AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret,
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip

    def run(*args: str) -> str:
        done = subprocess.run([AWS, "s3", *args, "--endpoint-url", endpoint], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def test_the_aws_cli_copies_20_mb_up_and_down_and_removes_a_prefix(
    aws: Any, s3: Any, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 * MIB))
    tracemalloc.start()  # the endpoint runs in this process: what it allocates is traced
    try:
        aws("cp", str(source), f"s3://{BUCKET}/cli/big.bin")
        aws("cp", f"s3://{BUCKET}/cli/big.bin", str(tmp_path / "back.bin"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    assert peak < 8 * MIB  # neither the object nor one of the CLI's 8 MB parts held whole
    for n in range(12):
        s3.put_object(Bucket=BUCKET, Key=f"cli/logs/{n % 3}/{n}.txt", Body=b"x")
    assert "cli/logs/1/1.txt" in aws("ls", "--recursive", f"s3://{BUCKET}/cli/")
    aws("rm", "--recursive", f"s3://{BUCKET}/cli/")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="cli/")["KeyCount"] == 0


def test_a_multipart_upload_by_hand_lists_its_parts_and_keeps_its_attributes(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="hand.csv", ContentType="text/csv",
                                        Metadata={"rows": "2"})["UploadId"]  # fmt: skip
    second = s3.upload_part(Bucket=BUCKET, Key="hand.csv", UploadId=upload, PartNumber=2,
                            Body=b"2,b\n")  # fmt: skip
    first = s3.upload_part(Bucket=BUCKET, Key="hand.csv", UploadId=upload, PartNumber=1,
                           Body=b"1,a\n" * MIB)  # fmt: skip
    listed = s3.list_parts(Bucket=BUCKET, Key="hand.csv", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 4 * MIB), (2, 4)]
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("hand.csv", upload)]
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key="hand.csv")  # nothing visible before completion
    s3.complete_multipart_upload(Bucket=BUCKET, Key="hand.csv", UploadId=upload,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": first["ETag"]},
                                     {"PartNumber": 2, "ETag": second["ETag"]}]})  # fmt: skip
    got = s3.get_object(Bucket=BUCKET, Key="hand.csv")
    assert got["Body"].read() == b"1,a\n" * MIB + b"2,b\n"
    assert (got["ContentType"], got["Metadata"]) == ("text/csv", {"rows": "2"})
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_aborting_an_upload_leaves_the_existing_object_alone(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"keep me")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="kept.txt")["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key="kept.txt", UploadId=upload, PartNumber=1,
                          Body=b"replacement")  # fmt: skip
    s3.abort_multipart_upload(Bucket=BUCKET, Key="kept.txt", UploadId=upload)
    assert s3.get_object(Bucket=BUCKET, Key="kept.txt")["Body"].read() == b"keep me"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="kept.txt", UploadId=upload,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
    assert code(err) == "NoSuchUpload"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="kept.txt", UploadId="f" * 32,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
    assert code(err) == "NoSuchUpload"


def test_a_part_named_with_the_wrong_etag_is_refused(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="wrong.bin")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="wrong.bin", UploadId=upload, PartNumber=1, Body=b"abc")
    wrong = {"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="wrong.bin", UploadId=upload,
                                     MultipartUpload=wrong)  # fmt: skip
    assert code(err) == "InvalidPart"


def test_concurrent_puts_deletes_and_parts_of_one_key_never_fail_or_mix(s3: Any) -> None:
    bodies = [bytes([n]) * (64 * 1024 + n) for n in range(8)]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="race/mp.bin")["UploadId"]
    with ThreadPoolExecutor(8) as pool:
        work = [pool.submit(s3.put_object, Bucket=BUCKET, Key="race/k.bin", Body=b)
                for b in bodies]  # fmt: skip
        work += [pool.submit(s3.delete_object, Bucket=BUCKET, Key="race/k.bin") for _ in range(4)]
        work += [pool.submit(s3.upload_part, Bucket=BUCKET, Key="race/mp.bin", UploadId=upload,
                             PartNumber=1, Body=b) for b in bodies]  # fmt: skip
        for done in work:
            done.result()  # raises what the call raised
    try:
        got = s3.get_object(Bucket=BUCKET, Key="race/k.bin")
        data = got["Body"].read()
        assert data in bodies and got["ContentLength"] == len(data)  # one whole body
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "NoSuchKey"  # a delete came last
    [part] = s3.list_parts(Bucket=BUCKET, Key="race/mp.bin", UploadId=upload)["Parts"]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="race/mp.bin", UploadId=upload,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
    assert s3.get_object(Bucket=BUCKET, Key="race/mp.bin")["Body"].read() in bodies
