"""A versioned bucket's retention rule and the restore of a version: replaced versions go once
they have been replaced long enough, except each key's newest few; a delete marker with nothing
behind it goes too; restoring copies a version back as the current one (encrypted or not)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from comind.governance.keyring import Keyring
from comind.platform.versions import BucketVersions
from comind.stores.object_versions import Expiry
from comind.stores.objects import FileObjectStore

NOW = Expiry(before=2**62, keep_newest=0)  # everything replaced so far is old enough


@pytest.fixture(params=[False, True], ids=["plain", "encrypted"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileObjectStore:
    objects = FileObjectStore(tmp_path / "objects", Keyring(tmp_path / "secrets"))
    objects.create_bucket("docs")
    objects.configure_bucket("docs", {"versioning": True, "encrypted": request.param})
    return objects


def history(store: FileObjectStore, key: str) -> list[tuple[bool, int]]:
    """(delete marker, size) of every version of ``key``, newest first."""
    return [(v.info.delete_marker, v.info.size) for v in store.versions("docs", key)]


def test_replaced_versions_expire_except_the_newest_kept(store: FileObjectStore) -> None:
    for size in (1, 2, 3, 4):
        store.put("docs", "a.txt", b"x" * size)
    store.put("docs", "b.txt", b"only")
    assert store.expire_versions("docs", Expiry(before=0, keep_newest=0)) == 0  # none old enough
    assert store.expire_versions("docs", Expiry(before=2**62, keep_newest=1)) == 2
    assert history(store, "a.txt") == [(False, 4), (False, 3)]
    assert store.get("docs", "a.txt") == b"xxxx"
    assert history(store, "b.txt") == [(False, 4)]  # a current version never expires


def test_the_age_counts_from_the_replacement_not_the_write(store: FileObjectStore) -> None:
    store.put("docs", "a.txt", b"first")
    between = time.time_ns()  # "first" was written before, replaced after
    store.put("docs", "a.txt", b"second")
    assert store.expire_versions("docs", Expiry(between, keep_newest=0)) == 0
    assert store.expire_versions("docs", NOW) == 1
    assert history(store, "a.txt") == [(False, 6)]


def test_a_deleted_key_goes_once_its_versions_have(store: FileObjectStore) -> None:
    store.put("docs", "gone.txt", b"old")
    store.delete("docs", "gone.txt")
    assert history(store, "gone.txt") == [(True, 0), (False, 3)]
    assert store.expire_versions("docs", Expiry(before=2**62, keep_newest=1)) == 0
    assert store.expire_versions("docs", NOW) == 2  # the version, then the lone marker
    assert history(store, "gone.txt") == []


def test_a_version_is_restored_as_the_current_one(store: FileObjectStore) -> None:
    first = store.put("docs", "a.txt", b"good")
    store.put("docs", "a.txt", b"broken")
    assert first.version_id is not None
    restored = BucketVersions(store).restore("docs", "a.txt", first.version_id)
    assert store.get("docs", "a.txt") == b"good" and restored.version_id != first.version_id
    assert history(store, "a.txt") == [(False, 4), (False, 6), (False, 4)]
    store.delete("docs", "a.txt")
    BucketVersions(store).restore("docs", "a.txt", first.version_id)  # from behind a marker
    assert store.get("docs", "a.txt") == b"good"
