"""Backup artifacts: sealed and opened back bit for bit, in bounded pieces; corruption,
truncation, reordering and wrong keys are refused; the key ring exports under a passphrase."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from comind.backup.crypto import CHUNK, WINDOW, BackupCryptoError, open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.errors import ComindError

KEY = b"k" * 32


def sealed(data: list[bytes]) -> bytes:
    return b"".join(seal_stream(data, "bk-1", KEY))


def test_round_trip_in_bounded_pieces() -> None:
    blocks = [os.urandom(300_000), b"\0" * (40 * CHUNK), b"tail"]
    artifact = sealed(blocks)
    assert len(artifact) < 2 * CHUNK  # zeros compress
    pieces = list(
        open_stream([artifact[i : i + 4096] for i in range(0, len(artifact), 4096)], {"bk-1": KEY})
    )
    assert b"".join(pieces) == b"".join(blocks)
    assert max(len(p) for p in pieces) <= WINDOW


def test_corruption_truncation_and_trailing_data_are_refused() -> None:
    artifact = bytearray(sealed([os.urandom(3 * CHUNK)]))
    keys = {"bk-1": KEY}
    flipped = bytes(artifact[:-50]) + bytes([artifact[-50] ^ 1]) + bytes(artifact[-49:])
    with pytest.raises(BackupCryptoError, match="corrupt"):
        b"".join(open_stream([flipped], keys))
    with pytest.raises(BackupCryptoError, match="truncated"):
        b"".join(open_stream([bytes(artifact[: len(artifact) // 2])], keys))
    with pytest.raises(BackupCryptoError, match="after its final chunk"):
        b"".join(open_stream([bytes(artifact) + b"x"], keys))
    with pytest.raises(BackupCryptoError, match="not a Comind backup"):
        b"".join(open_stream([b"PK\x03\x04 not ours"], keys))


def test_a_wrong_or_missing_key_fails_with_one_clear_message() -> None:
    artifact = sealed([b"secret rows"])
    with pytest.raises(BackupCryptoError, match="does not open this artifact"):
        b"".join(open_stream([artifact], {"bk-1": b"x" * 32}))
    with pytest.raises(BackupCryptoError, match="backup key bk-1 is not available"):
        b"".join(open_stream([artifact], {}))


def test_key_ring_rotation_and_passphrase_export(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "a")
    first, _ = ring.current()
    second, _ = ring.rotate()
    assert ring.current()[0] == second != first and set(ring.all()) == {first, second}
    assert oct((tmp_path / "a" / "backup-keys.json").stat().st_mode & 0o777) == "0o600"
    exported = ring.export("correct horse battery")
    other = KeyRing(tmp_path / "b")
    with pytest.raises(ComindError, match="wrong passphrase"):
        other.load(exported, "wrong passphrase!")
    assert other.load(exported, "correct horse battery") == sorted([first, second])
    assert other.all() == ring.all()
    assert not (tmp_path / "b" / "postgres-password").exists()  # keys only, unless asked


def test_a_platform_export_brings_the_other_secrets_into_a_new_state_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "postgres-password").write_text("pw-old\n")
    (tmp_path / "a" / "sealing").mkdir()  # the keys sealed secrets of the repository open with
    (tmp_path / "a" / "sealing" / "key-1.pem").write_text("PEM\n")
    (tmp_path / "a" / "backup-store-url").write_text("s3://prod-backups/comind\n")
    ring = KeyRing(tmp_path / "a")
    ring.current()
    exported = ring.export("correct horse battery")
    assert b"pw-old" not in exported
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "postgres-password").write_text("kept\n")
    KeyRing(tmp_path / "b").load(exported, "correct horse battery", platform=True)
    KeyRing(tmp_path / "c").load(exported, "correct horse battery", platform=True)
    assert (tmp_path / "b" / "postgres-password").read_text() == "pw-old\n"
    assert (tmp_path / "c" / "postgres-password").read_text() == "kept\n"  # never overwritten
    assert oct((tmp_path / "b" / "postgres-password").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "b" / "sealing" / "key-1.pem").read_text() == "PEM\n"
    assert oct((tmp_path / "b" / "sealing").stat().st_mode & 0o777) == "0o700"
    # where the old platform ran is not carried: a drill must not write into its backups
    assert not (tmp_path / "b" / "backup-store-url").exists()


def test_artifacts_written_with_gzip_by_earlier_versions_still_open() -> None:
    import json
    import zlib

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from comind.backup import crypto

    data_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    wrapped = nonce + AESGCM(KEY).encrypt(nonce, data_key, b"bk-1")
    header = json.dumps(
        {"v": 1, "key_id": "bk-1", "wrapped_key": wrapped.hex(), "compression": "gzip"}
    ).encode()
    squeeze = zlib.compressobj(1, zlib.DEFLATED, 31)
    body = squeeze.compress(b"old rows " * 1000) + squeeze.flush()
    sealer = crypto._Sealer(AESGCM(data_key))
    artifact = crypto.MAGIC + crypto._LEN.pack(len(header)) + header + sealer.seal(body, last=True)
    assert b"".join(open_stream([artifact], {"bk-1": KEY})) == b"old rows " * 1000


def test_first_keys_asked_for_at_once_are_one_key(tmp_path: Path) -> None:
    """Two first backups at once each made a key and wrote the ring: one key was lost (with
    whatever was sealed with it), or the rename of the shared temp file failed."""
    ring = KeyRing(tmp_path / "secrets")
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: KeyRing(ring.dir).current(), range(16)))
    assert len({key_id for key_id, _ in got}) == 1
    assert list(ring.all()) == [got[0][0]]
    assert sorted(p.name for p in ring.dir.iterdir()) == [".backup-keys.lock", "backup-keys.json"]
