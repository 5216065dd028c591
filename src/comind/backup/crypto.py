"""Backup artifacts: compressed, then encrypted with AES-256-GCM in chunks, under a data key
of their own that is wrapped by the platform's backup key (envelope encryption).

Layout: ``CMB1``, a 4-byte header length, a JSON header (format version, key id, the wrapped
data key), then chunks, each a 4-byte length and an AES-GCM ciphertext of up to 1 MiB of
compressed data. A chunk's nonce is a random prefix plus its index, and its associated data
says whether it is the last one, so a reordered, truncated or altered artifact fails to
decrypt rather than restoring something else. A wrong or missing key fails on the data key.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.errors import ComindError

MAGIC = b"CMB1"
CHUNK = 1 << 20
_LEN = struct.Struct(">I")


class BackupCryptoError(ComindError):
    """An artifact that cannot be read: wrong key, corrupt or truncated."""


def seal_stream(
    chunks: Iterable[bytes], key_id: str, key: bytes, *, level: int = 1
) -> Iterator[bytes]:
    """``chunks`` compressed (gzip) and encrypted into artifact bytes, streamed."""
    data_key = AESGCM.generate_key(bit_length=256)
    wrap_nonce = os.urandom(12)
    wrapped = wrap_nonce + AESGCM(key).encrypt(wrap_nonce, data_key, key_id.encode())
    header = json.dumps({"v": 1, "key_id": key_id, "wrapped_key": wrapped.hex(),
                         "compression": "gzip"}).encode()  # fmt: skip
    yield MAGIC + _LEN.pack(len(header)) + header
    sealer = _Sealer(AESGCM(data_key))
    squeeze = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip framing
    pending = bytearray()
    for chunk in chunks:
        pending += squeeze.compress(chunk)
        while len(pending) >= CHUNK:
            yield sealer.seal(bytes(pending[:CHUNK]), last=False)
            del pending[:CHUNK]
    pending += squeeze.flush()
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
    opener, inflate = _Sealer(AESGCM(data_key)), zlib.decompressobj(31)
    while True:
        size = reader.take_optional(4)
        if size is None:
            raise BackupCryptoError("the artifact is truncated (no final chunk)")
        plain, last = opener.open(reader.take(_LEN.unpack(size)[0]))
        yield from _inflated(inflate, plain)
        if last:
            yield inflate.flush()
            if reader.take_optional(1) is not None:
                raise BackupCryptoError("the artifact has data after its final chunk")
            return


def _inflated(inflate: Any, data: bytes) -> Iterator[bytes]:
    """Decompressed output in pieces of at most CHUNK (a highly compressible chunk would
    otherwise expand to hundreds of megabytes at once)."""
    while data:
        yield inflate.decompress(data, CHUNK)
        data = inflate.unconsumed_tail


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
