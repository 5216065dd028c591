"""Objects encrypted at rest: the chunked AES-256-GCM format of an encrypted bucket's files.

A file is a header, then the plaintext in chunks of ``chunk`` bytes (64 KiB; the last one
shorter, possibly empty), each sealed on its own: ``nonce (12) | ciphertext | tag (16)``.
The header is ``MAGIC | len(key id) (u16) | key id | chunk (u32)``: it names the data key
(the scope is the bucket's, ``bucket/<name>``), so a bucket keeps reading objects written
under an older data key, and a file without the magic is an object stored in clear (written
before the bucket became encrypted). Each chunk's associated data binds the bucket, the key,
the version id, the chunk's index and whether it is the last: a chunk moved to another place,
object or version, a reordering and a truncation all fail the tag. A range read seeks to the
chunks that cover it and decrypts only those (:class:`Decrypted`).

The store itself cannot reach the keyring (a higher layer): it is given a :class:`DataKeys`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client import Counter

from comind.observe.metrics import REGISTRY
from comind.stores.object_disk import Readable
from comind.stores.object_model import ObjectStoreError

MAGIC = b"\x89CMNDENC\x01"
CHUNK = 64 * 1024
MAX_CHUNK = 16 << 20  # a header naming a bigger chunk (or none) is refused as tampered
NONCE, TAG = 12, 16
ENCRYPTED = Counter(
    "comind_objects_encrypted_bytes_total",
    "Plaintext bytes encrypted into the object store's encrypted buckets.",
    registry=REGISTRY,
)
DECRYPTED = Counter(
    "comind_objects_decrypted_bytes_total",
    "Plaintext bytes decrypted from the object store's encrypted buckets.",
    registry=REGISTRY,
)


class DataKeys(Protocol):
    """What the store needs of the keyring (which satisfies it)."""

    def data_key(self, scope: str) -> _DataKey: ...

    def key(self, scope: str, key_id: str) -> bytes: ...


class _DataKey(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def key(self) -> bytes: ...


class TamperedObject(ObjectStoreError):
    """An encrypted object's bytes do not authenticate: altered, truncated, or moved."""


def scope(bucket: str) -> str:
    return f"bucket/{bucket}"


@dataclass(frozen=True)
class Place:
    """Where an object's bytes belong: bound to every chunk."""

    bucket: str
    key: str
    version: str

    def aad(self, index: int, final: bool) -> bytes:
        return b"\0".join([
            self.bucket.encode(), self.key.encode(), self.version.encode(),
            str(index).encode(), b"1" if final else b"0",
        ])  # fmt: skip


def header(key_id: str, chunk: int = CHUNK) -> bytes:
    raw = key_id.encode()
    return MAGIC + struct.pack(">H", len(raw)) + raw + struct.pack(">I", chunk)


def encrypt(
    blocks: Iterable[bytes], key_id: str, key: bytes, place: Place, chunk: int = CHUNK
) -> Iterator[bytes]:
    """``blocks`` (any sizes) as the encrypted file: the header, then sealed chunks."""
    aead, index, pending = AESGCM(key), 0, bytearray()
    yield header(key_id, chunk)
    for block in blocks:
        pending += block
        # keep at least one byte back: the last chunk is only known at the end
        while len(pending) > chunk:
            yield _seal(aead, bytes(pending[:chunk]), place.aad(index, False))
            del pending[:chunk]
            index += 1
    yield _seal(aead, bytes(pending), place.aad(index, True))
    ENCRYPTED.inc(index * chunk + len(pending))


def _seal(aead: AESGCM, plain: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + aead.encrypt(nonce, plain, aad)


@dataclass(frozen=True)
class Header:
    key_id: str
    chunk: int
    length: int  # of the header itself


def read_header(handle: IO[bytes]) -> Header | None:
    """The header of the file (left at its start), None when it is stored in clear."""
    start = handle.read(len(MAGIC) + 2)
    try:
        if len(start) < len(MAGIC) + 2 or not start.startswith(MAGIC):
            return None
        (size,) = struct.unpack(">H", start[len(MAGIC) :])
        rest = handle.read(size + 4)
        if len(rest) != size + 4:
            raise TamperedObject("an encrypted object's header is cut short")
        (chunk,) = struct.unpack(">I", rest[size:])
        if not 0 < chunk <= MAX_CHUNK:
            raise TamperedObject(f"an encrypted object's chunk size {chunk} is out of range")
        return Header(rest[:size].decode(errors="replace"), chunk, len(start) + size + 4)
    finally:
        handle.seek(0)


def plain_size(stored: int, head: Header) -> int:
    """The plaintext size of an encrypted file of ``stored`` bytes."""
    body = stored - head.length
    count = max(1, -(-body // (head.chunk + NONCE + TAG)))
    return body - count * (NONCE + TAG)


_BUFFERS = threading.local()


def _read_buffer(size: int) -> memoryview:
    """This thread's buffer for ciphertext read from disk, kept from read to read (a fresh
    one per read costs page faults on every read)."""
    held: bytearray | None = getattr(_BUFFERS, "raw", None)
    if held is None or len(held) < size:
        held = _BUFFERS.raw = bytearray(size)
    return memoryview(held)[:size]


class Decrypted:
    """An encrypted file read as its plaintext: ``read``/``seek``/``fileno``/``close`` as
    the file object it wraps, so the store reads it the way it reads a file in clear. A
    read decrypts only the chunks it covers (the last one decrypted is kept)."""

    def __init__(self, handle: IO[bytes], head: Header, key: bytes, place: Place) -> None:
        self._handle, self._head, self._place, self._aead = handle, head, place, AESGCM(key)
        self.size = plain_size(os.fstat(handle.fileno()).st_size, head)
        self._count = max(1, -(-self.size // head.chunk)) if self.size else 1
        self._pos, self._cached = 0, (-1, b"")

    def seek(self, pos: int) -> int:
        """Also decrypts the chunk at ``pos`` (kept for the read that follows), so that a
        reader learns of a tampered object before it streams anything."""
        self._pos = pos
        if pos < self.size:
            self._chunk(pos // self._head.chunk)
        return pos

    def read(self, size: int = -1) -> bytes:
        end = self.size if size < 0 else min(self.size, self._pos + size)
        if end <= self._pos:
            return b""
        first, offset = divmod(self._pos, self._head.chunk)
        last = -(-end // self._head.chunk)  # the chunks [first, last) hold the bytes asked
        if last - first > 1:  # one read from disk, each chunk decrypted into place
            plain = self._decrypt_span(first, last)
            if offset or len(plain) > end - self._pos:
                plain = plain[offset : offset + end - self._pos]
        else:
            plain = self._chunk(first)[offset : offset + end - self._pos]
        DECRYPTED.inc(len(plain))
        self._pos += len(plain)
        return plain

    def _decrypt_span(self, first: int, last: int) -> bytes:
        """Chunks ``[first, last)`` read from disk at once (into this thread's buffer), each
        decrypted from there."""
        sealed_size, chunk = self._head.chunk + NONCE + TAG, self._head.chunk
        plain_len = min(self.size, last * chunk) - first * chunk
        wanted = plain_len + (last - first) * (NONCE + TAG)
        src = _read_buffer(wanted)
        self._handle.seek(self._head.length + first * sealed_size)
        if self._handle.readinto(src) != wanted:  # type: ignore[attr-defined]
            raise TamperedObject(f"{self._place.bucket}/{self._place.key}: cut short on disk")
        pieces = []
        for n in range(last - first):
            length = min(chunk, plain_len - n * chunk)
            sealed = src[n * sealed_size : n * sealed_size + NONCE + length + TAG]
            with self._authentic(first + n):
                pieces.append(self._aead.decrypt(sealed[:NONCE], sealed[NONCE:],
                                                 self._aad(first + n)))  # fmt: skip
        return b"".join(pieces)

    def _chunk(self, index: int) -> bytes:
        if self._cached[0] == index:
            return self._cached[1]
        sealed_size = self._head.chunk + NONCE + TAG
        self._handle.seek(self._head.length + index * sealed_size)
        sealed = memoryview(self._handle.read(sealed_size))
        with self._authentic(index):
            plain = self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], self._aad(index))
        self._cached = (index, plain)
        return plain

    def _aad(self, index: int) -> bytes:
        return self._place.aad(index, index == self._count - 1)

    @contextlib.contextmanager
    def _authentic(self, index: int) -> Iterator[None]:
        try:
            yield
        except (InvalidTag, ValueError):  # ValueError: a chunk shorter than its tag
            raise TamperedObject(
                f"{self._place.bucket}/{self._place.key}: encrypted chunk {index} does not "
                "authenticate (altered, truncated or moved on disk)"
            ) from None

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        self._handle.close()


class Tally:
    """``blocks`` passed through, counting their bytes and MD5 (the plaintext's etag)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks, self.size = blocks, 0
        self.digest = hashlib.md5(usedforsecurity=False)

    def __iter__(self) -> Iterator[bytes]:
        for block in self._blocks:
            self.digest.update(block)
            self.size += len(block)
            yield block


class AtRest:
    """The store's encryption at rest: what a write stores, how a read opens it. Without
    ``keys`` the store refuses to write into an encrypted bucket or read an encrypted file."""

    def __init__(self, keys: DataKeys | None) -> None:
        self.keys = keys

    def body(self, encrypted: bool, place: Place, blocks: Iterable[bytes]) -> Iterable[bytes]:
        if not encrypted:
            return blocks
        current = self._keys(place).data_key(scope(place.bucket))
        return encrypt(blocks, current.id, current.key, place)

    def reader(self, handle: IO[bytes], place: Place, *, encrypted: bool) -> Readable:
        """``handle`` read as plaintext: itself when stored in clear. Only a file the store
        ``encrypted`` is decrypted: a file in clear that starts like an encrypted one (an
        app can write any bytes into its unencrypted bucket) is served as it is."""
        head = read_header(handle) if encrypted else None
        if head is None:
            return handle
        try:
            key = self._keys(place).key(scope(place.bucket), head.key_id)
        except BaseException:
            handle.close()
            raise
        return Decrypted(handle, head, key, place)

    def _keys(self, place: Place) -> DataKeys:
        if self.keys is None:
            raise ObjectStoreError(
                f"bucket {place.bucket} is encrypted and this object store has no keyring"
            )
        return self.keys
