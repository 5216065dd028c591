"""Disaster recovery reads a copied backup store through the object-store interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from comind.backup.base import BUCKET, BackupError
from comind.backup.dr import backup_source, copy_backups, refuse_foreign
from comind.stores.objects import FileObjectStore


def offsite(tmp_path: Path, name: str) -> Path:
    """A copy of the backup bucket, as `aws s3 sync` leaves it."""
    copy = tmp_path / name
    (copy / "base" / "full-1").mkdir(parents=True)
    (copy / "base" / "full-1" / "manifest.json").write_text('{"id": "full-1"}')
    (copy / "wal").mkdir()
    (copy / "wal" / "000000010000000000000001.cmb").write_bytes(b"w" * 3_000_000)
    return copy


@pytest.mark.parametrize("given", ["offsite", "state/objects", "state"])
def test_the_copy_is_found_and_streamed_into_the_new_store(tmp_path: Path, given: str) -> None:
    """--from: the bucket's copy itself, a copied objects/ holding it, a copied state dir."""
    home = tmp_path / "home"
    offsite(tmp_path / "state" / "objects", BUCKET)
    offsite(tmp_path, "offsite")
    store, bucket = backup_source(tmp_path / given)
    assert bucket == ("offsite" if given == "offsite" else BUCKET)
    target = FileObjectStore(home / "objects")
    assert copy_backups(store, bucket, target) == 2
    assert [k for k, _ in target.names(BUCKET)] == [
        "base/full-1/manifest.json",
        "wal/000000010000000000000001.cmb",
    ]
    assert target.get(BUCKET, "wal/000000010000000000000001.cmb") == b"w" * 3_000_000


def test_a_copy_not_named_like_a_bucket_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="name the copy's directory like a bucket"):
        backup_source(offsite(tmp_path, "My_Backups"))


def test_a_directory_without_backups_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="holds no Comind backups"):
        backup_source(tmp_path)


def test_a_store_holding_another_platforms_backups_is_refused(tmp_path: Path) -> None:
    """The replay reads every archived WAL file of the new platform's store: another
    platform's there would be replayed into this one (a CI failure: two rebuilt platforms
    on one S3 prefix). An earlier attempt's copies are the copy's own and pass."""
    copy = backup_source(offsite(tmp_path, "offsite"))
    target = FileObjectStore(tmp_path / "home" / "objects")
    refuse_foreign(copy, target)  # no backup bucket yet
    copy_backups(*copy, target)
    refuse_foreign(copy, target)  # a retry after a failed attempt
    target.put(BUCKET, "wal/000000010000000000000007.cmb", b"theirs")
    with pytest.raises(BackupError, match=r"already holds backups .* \(e.g. wal/0+10+7\.cmb\)"):
        refuse_foreign(copy, target)
    # a segment of the same name from another cluster (helper 52): the copy would skip it
    other = FileObjectStore(tmp_path / "other" / "objects")
    other.create_bucket(BUCKET)
    other.put(BUCKET, "wal/000000010000000000000001.cmb", b"another cluster's")
    with pytest.raises(BackupError, match=r"e.g. wal/0+10+1\.cmb"):
        refuse_foreign(copy, other)
