"""Backup artifacts: compressed (zstd), then encrypted with AES-256-GCM in chunks, under a
data key of their own that is wrapped by the platform's backup key (envelope encryption).

Layout: ``CMB1``, a 4-byte header length, a JSON header (format version, key id, the wrapped
data key, the compression), then chunks, each a 4-byte length and an AES-GCM ciphertext of the
compressed form of at most 4 MiB of input. A chunk's nonce is its index (the data key is used
for this artifact only) and its associated data says whether it is the last one, so a
reordered, truncated or altered artifact fails to decrypt rather than restoring something
else. A wrong or missing key fails on the data key. Artifacts written with gzip by earlier
versions still open.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, cast

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.errors import ComindError

MAGIC = b"CMB1"
CHUNK = 1 << 20
WINDOW = 4 << 20  # input bytes per sealed chunk
STREAM = "zstd-stream"  # sealed as given: a zstd stream made elsewhere
_LEN = struct.Struct(">I")


class BackupCryptoError(ComindError):
    """An artifact that cannot be read: wrong key, corrupt or truncated."""


def seal_stream(chunks: Iterable[bytes], key_id: str, key: bytes, *,
                compressed: bool = False) -> Iterator[bytes]:  # fmt: skip
    """``chunks`` compressed (zstd) and encrypted into artifact bytes, streamed.

    Each sealed chunk holds the compressed form of at most WINDOW bytes of input (a zstd
    block flush ends every window), so opening never expands one chunk past WINDOW.
    ``compressed``: ``chunks`` are a zstd stream already (a server-compressed base backup),
    sealed as they are; opening decompresses them in bounded pieces."""
    data_key = AESGCM.generate_key(bit_length=256)
    wrap_nonce = os.urandom(12)
    wrapped = wrap_nonce + AESGCM(key).encrypt(wrap_nonce, data_key, key_id.encode())
    header = json.dumps({"v": 1, "key_id": key_id, "wrapped_key": wrapped.hex(),
                         "compression": STREAM if compressed else "zstd"}).encode()  # fmt: skip
    yield MAGIC + _LEN.pack(len(header)) + header
    sealer = _Sealer(AESGCM(data_key))
    if compressed:
        yield from _as_they_are(chunks, sealer)
        return
    squeeze = zstandard.ZstdCompressor(level=1).compressobj()
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= WINDOW:
            window = squeeze.compress(bytes(pending[:WINDOW]))
            del pending[:WINDOW]
            yield sealer.seal(window + squeeze.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK), last=False)
    yield sealer.seal(squeeze.compress(bytes(pending)) + squeeze.flush(), last=True)


def _as_they_are(chunks: Iterable[bytes], sealer: _Sealer) -> Iterator[bytes]:
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= WINDOW:
            yield sealer.seal(bytes(pending[:WINDOW]), last=False)
            del pending[:WINDOW]
    yield sealer.seal(bytes(pending), last=True)


def open_stream(data: Iterable[bytes], keys: dict[str, bytes]) -> Iterator[bytes]:
    """The original bytes of an artifact streamed in ``data``; raises BackupCryptoError."""
    reader = _Reader(iter(data))
    if reader.take(4) != MAGIC:
        raise BackupCryptoError("not a Comind backup artifact (bad magic)")
    header = json.loads(reader.take(_LEN.unpack(reader.take(4))[0]))
    key = keys.get(header["key_id"])
    if key is None:
        raise BackupCryptoError(
            f"backup key {header['key_id']} is not available (was it exported?)"
        )
    wrapped = bytes.fromhex(header["wrapped_key"])
    try:
        data_key = AESGCM(key).decrypt(wrapped[:12], wrapped[12:], header["key_id"].encode())
    except InvalidTag:
        raise BackupCryptoError(
            f"backup key {header['key_id']} does not open this artifact"
        ) from None
    opened = _opened(reader, _Sealer(AESGCM(data_key)))
    if header.get("compression") == STREAM:  # bounded pieces, however well it compressed
        source = cast(IO[bytes], _Chunks(opened))  # what read_to_iter calls: read(n)
        yield from zstandard.ZstdDecompressor().read_to_iter(
            source, read_size=CHUNK, write_size=WINDOW
        )
        return
    inflate = _Inflater(header.get("compression", "gzip"))
    for plain in opened:
        yield from inflate.pieces(plain)


def _opened(reader: _Reader, opener: _Sealer) -> Iterator[bytes]:
    """The decrypted chunks, each checked, the last one marked as such."""
    while True:
        size = reader.take_optional(4)
        if size is None:
            raise BackupCryptoError("the artifact is truncated (no final chunk)")
        plain, last = opener.open(reader.take(_LEN.unpack(size)[0]))
        yield plain
        if last:
            if reader.take_optional(1) is not None:
                raise BackupCryptoError("the artifact has data after its final chunk")
            return


class _Chunks:
    """An iterator of byte chunks as what ``read_to_iter`` reads from."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buf = chunks, b""

    def read(self, n: int) -> bytes:
        while not self.buf:
            more = next(self.chunks, None)
            if more is None:
                return b""
            self.buf = more
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class _Inflater:
    """zstd (what seal_stream writes) or gzip (artifacts of earlier versions), in pieces of
    at most CHUNK for gzip; zstd pieces are bounded by the writer's WINDOW."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.zstd = zstandard.ZstdDecompressor().decompressobj() if kind == "zstd" else None
        self.gzip = zlib.decompressobj(31) if kind == "gzip" else None
        if self.zstd is None and self.gzip is None:
            raise BackupCryptoError(f"unknown compression {kind!r} (a newer Comind wrote this?)")

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if self.zstd is not None:
            if out := self.zstd.decompress(data):
                yield out
            return
        assert self.gzip is not None
        while data:
            yield self.gzip.decompress(data, CHUNK)
            data = self.gzip.unconsumed_tail


class _Sealer:
    def __init__(self, aead: AESGCM) -> None:
        self.aead, self.index = aead, 0

    def seal(self, plain: bytes, *, last: bool) -> bytes:
        nonce = self.index.to_bytes(12, "big")
        self.index += 1
        sealed = self.aead.encrypt(nonce, plain, b"last" if last else b"more")
        return _LEN.pack(len(sealed)) + sealed

    def open(self, sealed: bytes) -> tuple[bytes, bool]:
        nonce = self.index.to_bytes(12, "big")
        self.index += 1
        for last, aad in ((False, b"more"), (True, b"last")):
            try:
                return self.aead.decrypt(nonce, sealed, aad), last
            except InvalidTag:
                continue
        raise BackupCryptoError(f"the artifact is corrupt (chunk {self.index - 1} fails its check)")


class _Reader:
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buf = chunks, bytearray()

    def take_optional(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            more = next(self.chunks, None)
            if more is None:
                if self.buf:
                    raise BackupCryptoError("the artifact is truncated")
                return None
            self.buf += more
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def take(self, n: int) -> bytes:
        got = self.take_optional(n)
        if got is None:
            raise BackupCryptoError("the artifact is truncated")
        return got
