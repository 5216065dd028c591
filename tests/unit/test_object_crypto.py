"""Objects encrypted at rest: the chunk format round-trips any size and range, refuses any
edit, move or truncation, and the file store keeps an encrypted bucket's files in
ciphertext while callers see plaintext (sizes, etags, ranges, versions, multipart)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comind.governance.keyring import Keyring
from comind.platform.reencrypt import Reencryption
from comind.stores.object_crypto import Decrypted, Place, TamperedObject, encrypt, read_header
from comind.stores.objects import FileObjectStore, ObjectStoreError, Part

KEY = bytes(range(32))
HERE = Place("data", "a/b.bin", "null")


def sealed(tmp: Path, plain: bytes, chunk: int, place: Place = HERE) -> Path:
    path = tmp / f"obj-{os.urandom(4).hex()}"
    pieces = [plain[i : i + 1000] for i in range(0, len(plain), 1000)]
    path.write_bytes(b"".join(encrypt(pieces, "dk-1", KEY, place, chunk)))
    return path


def opened(path: Path, place: Place = HERE) -> Decrypted:
    handle = path.open("rb")
    head = read_header(handle)
    assert head is not None and head.key_id == "dk-1"
    return Decrypted(handle, head, KEY, place)


def read_all(path: Path, place: Place = HERE) -> bytes:
    view = opened(path, place)
    try:
        return view.read()
    finally:
        view.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=3000),
    st.sampled_from([1, 16, 512, 1024]),
    st.integers(0, 3000),
    st.integers(0, 3000),
)
def test_any_size_and_range_round_trips(
    tmp_path: Path, plain: bytes, chunk: int, a: int, b: int
) -> None:
    view = opened(sealed(tmp_path, plain, chunk))
    assert view.size == len(plain) and view.read() == plain
    start, end = min(a, b), max(a, b)
    view.seek(start)
    assert view.read(end - start) == plain[start:end]
    view.close()


def test_an_edited_reordered_truncated_or_moved_file_fails_to_read(tmp_path: Path) -> None:
    plain = os.urandom(5000)
    path = sealed(tmp_path, plain, 1024)
    with path.open("rb") as handle:
        head = read_header(handle)
    assert head is not None
    raw, head_len = path.read_bytes(), head.length
    unit = 1024 + 28
    flipped = bytearray(raw)
    flipped[head_len + unit + 40] ^= 1
    swapped = raw[:head_len] + raw[head_len + unit : head_len + 2 * unit]
    swapped += raw[head_len : head_len + unit] + raw[head_len + 2 * unit :]
    truncated = raw[: head_len + 2 * unit]
    for bad in (bytes(flipped), swapped, truncated):
        path.write_bytes(bad)
        with pytest.raises(TamperedObject, match="does not authenticate"):
            read_all(path)
    path.write_bytes(raw)
    with pytest.raises(TamperedObject):
        read_all(path, Place("data", "other.bin", "null"))


@pytest.fixture
def store(tmp_path: Path) -> FileObjectStore:
    objects = FileObjectStore(tmp_path / "objects", Keyring(tmp_path / "secrets"))
    objects.create_bucket("safe")
    objects.configure_bucket("safe", {"encrypted": True, "versioning": True})
    return objects


def test_an_encrypted_bucket_holds_ciphertext_and_reads_plaintext(
    store: FileObjectStore, tmp_path: Path
) -> None:
    plain = b"TOP-SECRET-PAYLOAD " * 20_000  # 380 KB: several chunks
    info = store.put_stream("safe", "k.txt", [plain[:1000], plain[1000:]])
    on_disk = (tmp_path / "objects" / "safe" / "k.txt").read_bytes()
    assert b"TOP-SECRET" not in on_disk and len(on_disk) > len(plain)
    assert (info.size, info.etag) == (len(plain), hashlib.md5(plain).hexdigest())
    head = store.head("safe", "k.txt")
    assert head is not None and (head.size, head.etag) == (info.size, info.etag)
    assert b"".join(store.open("safe", "k.txt").blocks(70_000, 200_000)) == plain[70_000:200_001]
    store.put("safe", "k.txt", b"second")
    assert store.get("safe", "k.txt") == b"second"
    first = store.open("safe", "k.txt", version_id=info.version_id)
    assert b"".join(first.blocks()) == plain


def test_multipart_and_old_clear_objects_and_older_data_keys_all_read(
    store: FileObjectStore, tmp_path: Path
) -> None:
    store.configure_bucket("safe", {"encrypted": False})
    store.put("safe", "clear.txt", b"written in clear")
    store.configure_bucket("safe", {"encrypted": True})
    assert store.get("safe", "clear.txt") == b"written in clear"
    store.put("safe", "old-key.txt", b"under the first data key")
    Keyring(tmp_path / "secrets").new_data_key("bucket/safe")
    upload = store.create_multipart("safe", "multi.bin")
    parts = [store.upload_part("safe", "multi.bin", upload, n, [b"PART%d" % n * 5000])
             for n in (1, 2)]  # fmt: skip
    info = store.complete_multipart("safe", "multi.bin", upload, [Part(p.number, p.etag, -1)
                                                                 for p in parts])  # fmt: skip
    assert store.get("safe", "multi.bin") == b"PART1" * 5000 + b"PART2" * 5000
    assert (
        info.size == 50_000 and b"PART1" not in (tmp_path / "objects/safe/multi.bin").read_bytes()
    )
    assert store.get("safe", "old-key.txt") == b"under the first data key"


def test_without_a_keyring_an_encrypted_bucket_is_refused(
    store: FileObjectStore, tmp_path: Path
) -> None:
    store.put("safe", "k", b"x")
    bare = FileObjectStore(tmp_path / "objects")
    for attempt in (lambda: bare.put("safe", "j", b"y"), lambda: bare.get("safe", "k")):
        with pytest.raises(ObjectStoreError, match="encrypted and this object store has no"):
            attempt()


def test_reencryption_moves_objects_to_the_new_key_at_a_bounded_rate(
    store: FileObjectStore, tmp_path: Path
) -> None:
    keys = Keyring(tmp_path / "secrets")
    before = {f"o{n}": store.put("safe", f"o{n}", b"payload %d" % n * 1000) for n in range(3)}
    mtime = (tmp_path / "objects/safe/o0").stat().st_mtime_ns
    new = keys.new_data_key("bucket/safe")
    work = Reencryption(store, keys, rate=2)
    assert work.remaining() == 3
    assert work.step() == 1 and work.step() == 0 and work.remaining() == 0
    for key, info in before.items():
        with (tmp_path / "objects/safe" / key).open("rb") as handle:
            head = read_header(handle)
        assert head is not None and head.key_id == new.id
        head_now = store.head("safe", key)
        assert head_now is not None and (head_now.etag, head_now.size) == (info.etag, info.size)
        assert head_now.version_id == info.version_id
        assert store.get("safe", key) == b"payload %d" % int(key[1:]) * 1000
    assert (tmp_path / "objects/safe/o0").stat().st_mtime_ns == mtime


def test_clear_bytes_that_look_encrypted_are_served_as_written(store: FileObjectStore) -> None:
    """An app writes anything into its unencrypted bucket, a fake encryption header too: it
    reads back as written (it made reads and backups of the bucket fail: red team)."""
    store.create_bucket("open")
    fake = b"\x89CMNDENC\x01" + b"\x00\x04dk-x" + b"\x00\x00\x00\x00" + b"payload"
    store.put("open", "fake.bin", fake)
    assert store.get("open", "fake.bin") == fake
    assert [i.key for i in store.list("open")] == ["fake.bin"]
    with pytest.raises(TamperedObject, match="chunk size 0"):
        read_header(io.BytesIO(fake))
