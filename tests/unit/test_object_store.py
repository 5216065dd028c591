"""The object-store protocol's streaming and multipart methods, on the file store (a
directory: no server needed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from comind.stores.objects import FileObjectStore, ObjectStore, ObjectStoreError, Part

MIB = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    objects = FileObjectStore(tmp_path / "objects")
    objects.create_bucket("data")
    return objects


def blocks(count: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for n in range(count):
        yield bytes([n % 251]) * size


def leftovers(tmp_path: Path) -> list[Path]:
    """Files in the store's own area (temp files, parts) that outlived their write."""
    area = tmp_path / "objects"
    return [p for d in (".tmp", ".uploads") for p in (area / d).rglob("*") if p.is_file()]


def test_a_multi_mb_object_streams_in_and_out_block_by_block(store: ObjectStore) -> None:
    expected = hashlib.md5(b"".join(blocks(24)), usedforsecurity=False).hexdigest()
    info = store.put_stream("data", "big/one.bin", blocks(24))
    assert (info.size, info.etag) == (24 * 256 * 1024, expected)
    sizes, digest = [], hashlib.md5(usedforsecurity=False)
    for block in store.get_stream("data", "big/one.bin", chunk=MIB):
        sizes.append(len(block))
        digest.update(block)
    assert digest.hexdigest() == expected
    assert sizes == [MIB] * 6  # never the whole object at once


def test_a_stream_being_written_is_invisible_until_complete(store: ObjectStore) -> None:
    store.put("data", "k", b"old")
    seen: list[tuple[bytes, list[str]]] = []

    def chunks() -> Iterator[bytes]:
        yield b"new-"
        seen.append((store.get("data", "k"), [n for n, _ in store.names("data")]))
        yield b"content"

    store.put_stream("data", "k", chunks())
    assert seen == [(b"old", ["k"])]  # the old object whole, no temp file listed
    assert store.get("data", "k") == b"new-content"


def test_a_failed_stream_leaves_the_old_object_and_no_temp_file(
    store: ObjectStore, tmp_path: Path
) -> None:
    store.put("data", "k", b"old")

    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError("source went away")

    with pytest.raises(OSError, match="source went away"):
        store.put_stream("data", "k", broken())
    assert store.get("data", "k") == b"old"
    assert leftovers(tmp_path) == []


def test_streaming_a_missing_object_fails_at_the_call(store: ObjectStore) -> None:
    with pytest.raises(ObjectStoreError, match="no object data/nope"):
        store.get_stream("data", "nope")


def test_a_multipart_upload_joins_its_parts_in_order(store: ObjectStore, tmp_path: Path) -> None:
    upload = store.create_multipart("data", "joined.bin")
    second = store.upload_part("data", "joined.bin", upload, 2, blocks(4))
    first = store.upload_part("data", "joined.bin", upload, 1, [b"head-"])
    assert store.head("data", "joined.bin") is None  # nothing visible before completion
    info = store.complete_multipart("data", "joined.bin", upload, [first, second])
    content = b"head-" + b"".join(blocks(4))
    assert store.get("data", "joined.bin") == content
    assert info.etag == store.head("data", "joined.bin").etag  # type: ignore[union-attr]
    assert info.size == len(content)
    assert leftovers(tmp_path) == []


def test_an_aborted_upload_leaves_no_object_and_no_parts(
    store: ObjectStore, tmp_path: Path
) -> None:
    upload = store.create_multipart("data", "gone.bin")
    store.upload_part("data", "gone.bin", upload, 1, blocks(2))
    store.abort_multipart("data", "gone.bin", upload)
    assert store.head("data", "gone.bin") is None
    assert leftovers(tmp_path) == []
    with pytest.raises(ObjectStoreError, match="no multipart upload"):
        store.upload_part("data", "gone.bin", upload, 2, [b"late"])


def test_a_part_uploaded_again_replaces_the_first(store: ObjectStore) -> None:
    upload = store.create_multipart("data", "k")
    store.upload_part("data", "k", upload, 1, [b"first try"])
    again = store.upload_part("data", "k", upload, 1, [b"second"])
    store.complete_multipart("data", "k", upload, [again])
    assert store.get("data", "k") == b"second"


def test_completing_with_a_part_not_as_uploaded_changes_nothing(store: ObjectStore) -> None:
    upload = store.create_multipart("data", "k")
    part = store.upload_part("data", "k", upload, 1, [b"abc"])
    forged = Part(number=1, etag="0" * 32, size=3)
    with pytest.raises(ObjectStoreError, match="part 1 was not uploaded as listed"):
        store.complete_multipart("data", "k", upload, [forged])
    with pytest.raises(ObjectStoreError, match="ascending order"):
        store.complete_multipart("data", "k", upload, [part, part])
    assert store.head("data", "k") is None
    store.complete_multipart("data", "k", upload, [part])  # the upload is still usable
    assert store.get("data", "k") == b"abc"


@pytest.mark.parametrize("upload", ["../../data/k", "not-an-id", "0" * 32])
def test_an_unknown_or_malformed_upload_id_is_refused(store: ObjectStore, upload: str) -> None:
    with pytest.raises(ObjectStoreError, match="no multipart upload"):
        store.upload_part("data", "k", upload, 1, [b"x"])


def test_an_upload_is_bound_to_its_key(store: ObjectStore) -> None:
    upload = store.create_multipart("data", "k")
    with pytest.raises(ObjectStoreError, match="not one of data/other"):
        store.upload_part("data", "other", upload, 1, [b"x"])


def test_bad_part_numbers_are_refused(store: ObjectStore) -> None:
    upload = store.create_multipart("data", "k")
    for number in (0, 10_001):
        with pytest.raises(ObjectStoreError, match="bad part number"):
            store.upload_part("data", "k", upload, number, [b"x"])


def test_the_store_lists_its_buckets_not_its_own_area(store: ObjectStore) -> None:
    upload = store.create_multipart("data", "k")
    store.upload_part("data", "k", upload, 1, [b"x"])
    store.create_bucket("logs")
    assert store.buckets() == ["data", "logs"]


def test_concurrent_deletes_and_puts_in_one_prefix_never_fail(store: ObjectStore) -> None:
    """`aws s3 rm --recursive` deletes a prefix's objects in parallel: every delete is
    idempotent and tidies the directories it empties without tripping over another's,
    and a put into that prefix meanwhile still lands (issue 15, finding 13)."""
    for round_ in range(30):
        keys = [f"logs/{round_}/day/{i}.txt" for i in range(8)]
        for key in keys:
            store.put("data", key, b"x")
        with ThreadPoolExecutor(8) as pool:
            work = [pool.submit(store.delete, "data", key) for key in keys]
            work += [pool.submit(store.delete, "data", keys[0])]  # a delete of a deleted key
            work += [pool.submit(store.put, "data", f"logs/{round_}/day/new.txt", b"y")]
            for done in work:
                done.result()  # raises what the call raised
        left = [name for name, _ in store.names("data", f"logs/{round_}/")]
        assert left == [f"logs/{round_}/day/new.txt"]


def test_concurrent_uploads_of_one_part_number_leave_exactly_one_whole_part(
    store: ObjectStore,
) -> None:
    """Each upload of a number drops the earlier ones: two at once must not drop each
    other's (the last one stays whole), so the upload still completes (finding 13)."""
    for _ in range(20):
        upload = store.create_multipart("data", "k")
        bodies = [bytes([n]) * (1000 + n) for n in range(6)]
        with ThreadPoolExecutor(6) as pool:
            work = [pool.submit(store.upload_part, "data", "k", upload, 1, [b]) for b in bodies]
            sent = [done.result() for done in work]
        [part] = store.parts("data", "k", upload)
        assert part in [Part(p.number, p.etag, p.size, part.modified) for p in sent]
        store.complete_multipart("data", "k", upload, [part])
        assert store.get("data", "k") in bodies
