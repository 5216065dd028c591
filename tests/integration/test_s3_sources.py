"""A copy of objects under a prefix of an S3 bucket (``s3://BUCKET/PREFIX``), read as a
source (moto's S3 as the API double): what a disaster recovery from S3 starts from."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from comind.backup.base import BackupError
from comind.backup.dr import rebuild
from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.stores.object_model import ObjectStoreError
from comind.stores.s3_sources import s3_source


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=moto_url)
    client.create_bucket(Bucket="offsite")
    for key in ("vault/base/b1/base.tar.cmb", "vault/wal/000000010000000000000001.cmb",
                "vaulted/base/x", "other/base/y"):  # fmt: skip
        client.put_object(Bucket="offsite", Key=key, Body=key.encode())
    return moto_url


def test_a_prefix_reads_as_a_bucket_of_its_own(aws: str) -> None:
    source, bucket = s3_source("s3://offsite/vault/", aws)
    assert bucket == "offsite"
    assert sorted(k for k, _ in source.names(bucket)) == [
        "base/b1/base.tar.cmb", "wal/000000010000000000000001.cmb"]  # fmt: skip
    assert [k for k, _ in source.names(bucket, "wal/")] == ["wal/000000010000000000000001.cmb"]
    got = b"".join(source.get_stream(bucket, "base/b1/base.tar.cmb"))
    assert got == b"vault/base/b1/base.tar.cmb"
    whole, _ = s3_source("s3://offsite", aws)
    assert len(list(whole.names(bucket))) == 4


@pytest.mark.parametrize("url", ["s3://Not_A_Bucket/x", "s3:///prefix", "s3://ab"])
def test_a_url_that_names_no_bucket_is_refused(url: str) -> None:
    with pytest.raises(ObjectStoreError, match="expected s3://BUCKET/PREFIX"):
        s3_source(url)


def test_an_unreachable_endpoint_is_one_line(aws: str) -> None:
    source, bucket = s3_source("s3://offsite/vault", "http://127.0.0.1:9")
    with pytest.raises(ObjectStoreError, match="S3: Could not connect") as caught:
        next(iter(source.names(bucket)))
    assert "\n" not in str(caught.value)


def test_a_copy_without_backups_builds_nothing(aws: str, tmp_path: Path) -> None:
    home = StateDir(tmp_path / "new")
    with pytest.raises(BackupError, match="holds no Comind backups"):
        rebuild(s3_source("s3://offsite/other-nothing", aws), home, Settings(home=home.root),
                b"{}", "passphrase")  # fmt: skip
    assert not home.root.exists()
