"""S3 request bodies, streamed: never a whole object in memory, nothing stored unchecked.

The signature was checked on the headers before a byte of the body is read; the body is then
pulled block by block (in the worker thread that stores it) and every check runs as the
blocks pass: the payload hash the signature covers (``x-amz-content-sha256``), the
``aws-chunked`` framing with its declared length and checksum trailer, ``Content-MD5`` and
``x-amz-checksum-*``. The checks that need the whole body raise after its last block and
before the iterator ends, so the store, which installs an object only once its iterator is
exhausted, never keeps a body that failed one.

Bounds: a body needs a ``Content-Length`` no bigger than the operation's cap (S3's 5 GiB for
an object or a part), checked before reading and again while streaming; each block must
arrive within ``BODY_SECONDS`` and the whole body at ``MIN_RATE`` on average, so a client
cannot hold a worker with a trickle.
"""

from __future__ import annotations

import base64
import hashlib
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import anyio
import anyio.from_thread
from starlette.types import Message, Receive

from comind.api.limits import BODY_SECONDS
from comind.api.s3_errors import S3Error, not_implemented

MAX_OBJECT = 5 << 30  # S3's largest single PUT and largest part
MIN_RATE = 64 << 10  # bytes per second a body must average once BODY_SECONDS have passed
UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
FRAMING = 2  # an aws-chunked body without a Content-Length: at most twice its data, framed
_MAX_LINE = 4096  # a chunk-size or trailer line


class Digest(Protocol):
    """What a checksum is computed with: hashlib's objects and the CRC32 below."""

    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


CHECKSUMS: dict[str, Callable[[], Digest]] = {
    "x-amz-checksum-crc32": lambda: _Crc32(),
    "x-amz-checksum-sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "x-amz-checksum-sha256": hashlib.sha256,
}


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def payload_claim(headers: Mapping[str, str], *, secure: bool) -> str:
    """The payload hash the request claims, refused when it may not be used: missing, a
    signed streaming payload (not implemented), or unsigned over plain HTTP, where nothing
    but the signature keeps a captured request from being replayed with another body."""
    claim = headers.get("x-amz-content-sha256")
    if claim is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: "
                      "x-amz-content-sha256", 400)  # fmt: skip
    if claim.startswith("STREAMING-AWS4-"):
        raise not_implemented("A signed streaming (aws-chunked with chunk signatures) upload")
    if claim in UNSIGNED and not secure:
        raise S3Error("AccessDenied", "Unsigned payloads are refused over plain HTTP: sign "
                      "the payload (SDKs do by default on http) or use HTTPS", 403)  # fmt: skip
    return claim


class Body:
    """The body of one request, read in a worker thread from the ASGI ``receive``."""

    def __init__(self, receive: Receive, headers: Mapping[str, str], max_object: int) -> None:
        self.receive, self.headers, self.claim = receive, headers, ""
        self.max_object = max_object
        self.ended = headers.get("content-length", "0") == "0" and not headers.get(
            "transfer-encoding"
        )

    def left_unread(self) -> bool:
        """Whether an answer leaves the body on the connection (refused before reading
        it, or part way): the connection must then close, or its rest would be read as the
        next request (a client waiting on ``Expect: 100-continue`` never sends it)."""
        return not self.ended

    def blocks(self, limit: int | None = None) -> Iterator[bytes]:
        """The body's data (``aws-chunked`` decoded), every check passed once it ends; at
        most ``limit`` bytes (default: an object's most)."""
        limit = self.max_object if limit is None else limit
        chunked = "aws-chunked" in self.headers.get("content-encoding", "")
        declared = self._declared(limit, chunked)
        _wanted_sums(self.headers)  # an unknown checksum is refused before a byte is read
        return decoded(_signed(self._wire(declared), self.claim), self.headers, limit)

    def read(self, limit: int) -> bytes:
        """A small body (an XML document) whole, checked as :meth:`blocks`."""
        return b"".join(self.blocks(limit))

    def _declared(self, limit: int, chunked: bool) -> tuple[int, bool]:
        """The most bytes the body may take on the wire, and whether exactly that many
        are declared. An ``aws-chunked`` body declares its data's length
        (``x-amz-decoded-content-length``) and may come with HTTP chunking instead of a
        Content-Length (SDKs do so over HTTPS): its framing is bounded by ``FRAMING``."""
        length = self.headers.get("content-length")
        decoded = self.headers.get("x-amz-decoded-content-length") if chunked else length
        if decoded is None or not decoded.isdigit() or (length and not length.isdigit()):
            raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP "
                          "header.", 411)  # fmt: skip
        if int(decoded) > limit:
            raise too_large(limit)
        if length:
            return int(length), True
        return int(decoded) * FRAMING + (64 << 10), False

    def _wire(self, declared: tuple[int, bool]) -> Iterator[bytes]:
        (most, exact), started, got = declared, time.monotonic(), 0
        while True:
            deadline = started + BODY_SECONDS + most / MIN_RATE
            wait = min(BODY_SECONDS, deadline - time.monotonic())
            message = anyio.from_thread.run(_receive_within, self.receive, max(wait, 0.0))
            if message["type"] == "http.disconnect":
                raise S3Error("IncompleteBody", "The client went away before its body ended.",
                              400)  # fmt: skip
            block: bytes = message.get("body", b"")
            got += len(block)
            if got > most:
                raise S3Error("IncompleteBody", "The body is longer than it said.", 400)
            yield block
            if not message.get("more_body"):
                self.ended = True
                break
        if exact and got != most:
            raise S3Error("IncompleteBody", "The body is shorter than its Content-Length.", 400)


def decoded(wire: Iterator[bytes], headers: Mapping[str, str], limit: int) -> Iterator[bytes]:
    """The data of a body arriving as ``wire`` (``aws-chunked`` framing removed), at most
    ``limit`` bytes, checked against the lengths and checksums ``headers`` declare."""
    trailer: dict[str, str] = {}
    chunked = "aws-chunked" in headers.get("content-encoding", "")
    data = _dechunked(wire, trailer) if chunked else wire
    return _checked(_capped(data, limit), headers, trailer)


def too_large(limit: int) -> S3Error:
    return S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size "
                   f"of {limit} bytes.", 400)  # fmt: skip


async def _receive_within(receive: Receive, seconds: float) -> Message:
    try:
        with anyio.fail_after(seconds):
            return await receive()
    except TimeoutError:
        raise S3Error("RequestTimeout", "Your socket connection to the server was not read "
                      "from or written to within the timeout period.", 400) from None  # fmt: skip


def _signed(wire: Iterator[bytes], claim: str) -> Iterator[bytes]:
    """``wire`` unchanged, checked at its end against the signed payload hash."""
    digest = hashlib.sha256()
    for block in wire:
        if claim not in UNSIGNED:
            digest.update(block)
        yield block
    if claim not in UNSIGNED and digest.hexdigest() != claim:
        raise S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header "
                      "does not match what was computed.", 400)  # fmt: skip


def _capped(data: Iterator[bytes], limit: int) -> Iterator[bytes]:
    size = 0
    for block in data:
        size += len(block)
        if size > limit:
            raise too_large(limit)
        yield block


def _checked(
    data: Iterator[bytes], headers: Mapping[str, str], trailer: dict[str, str]
) -> Iterator[bytes]:
    """``data`` unchanged, checked at its end against Content-MD5, the declared decoded
    length and the ``x-amz-checksum-*`` header or trailer (filled in as the body ends)."""
    sums = _wanted_sums(headers)
    size = 0
    for block in data:
        for digest in sums.values():
            digest.update(block)
        size += len(block)
        yield block
    md5 = sums.pop("content-md5", None)
    if md5 is not None and base64.b64encode(md5.digest()).decode() != headers["content-md5"]:
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we "
                      "received.", 400)  # fmt: skip
    declared = headers.get("x-amz-decoded-content-length")
    if "aws-chunked" in headers.get("content-encoding", "") and declared not in (None, str(size)):
        raise S3Error("IncompleteBody", "The body is not as long as its declared length.", 400)
    claimed = {**headers, **trailer}
    unannounced = sorted({k for k in trailer if k.startswith("x-amz-checksum-")} - set(sums))
    if unannounced:
        raise S3Error("InvalidRequest", f"The trailer {unannounced[0]} was not announced in "
                      "x-amz-trailer.", 400)  # fmt: skip
    for name, digest in sums.items():
        if base64.b64encode(digest.digest()).decode() != claimed.get(name):
            raise S3Error("BadDigest", f"The {name} you specified did not match the data.", 400)


def _wanted_sums(headers: Mapping[str, str]) -> dict[str, Digest]:
    """A fresh digest per checksum the request carries (as a header, or announced in
    ``x-amz-trailer``); an algorithm this endpoint cannot check is refused."""
    names = {k for k in headers if k.startswith("x-amz-checksum-") and k != "x-amz-checksum-type"}
    names |= {n.strip().lower() for n in headers.get("x-amz-trailer", "").split(",") if n.strip()}
    unknown = sorted(names - set(CHECKSUMS))
    if unknown:
        raise not_implemented(f"The checksum {unknown[0]} (use CRC32, SHA1 or SHA256)")
    sums = {name: CHECKSUMS[name]() for name in names}
    if headers.get("content-md5"):
        sums["content-md5"] = hashlib.md5(usedforsecurity=False)
    return sums


def _dechunked(wire: Iterator[bytes], trailer: dict[str, str]) -> Iterator[bytes]:
    """The data of an ``aws-chunked`` body (``HEX-SIZE\\r\\nDATA\\r\\n`` chunks, a last
    ``0`` chunk, then trailer lines ``name:value``, put into ``trailer``)."""
    reader = _Reader(wire)
    while size := _chunk_size(reader.line()):
        while size:
            block = reader.take(size)
            size -= len(block)
            yield block
        if reader.line():
            raise S3Error("IncompleteBody", "A chunk of the body is cut short.", 400)
    while line := reader.line(at_end_ok=True):
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            trailer[name.strip().lower()] = value.strip()
    reader.drain()


def _chunk_size(line: bytes) -> int:
    size = line.split(b";")[0].strip()
    if not size or size.strip(b"0123456789abcdefABCDEF") or len(size) > 16:
        raise S3Error("IncompleteBody", "A chunk of the body is malformed.", 400)
    return int(size, 16)


class _Reader:
    """Lines and byte runs out of an iterator of blocks, holding at most a block."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self.blocks, self.buffer = blocks, b""

    def _fill(self) -> bool:
        block = next(self.blocks, None)
        if block is None:
            return False
        self.buffer += block
        return True

    def line(self, *, at_end_ok: bool = False) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > _MAX_LINE or not self._fill():
                if at_end_ok and not self.buffer.strip():
                    return b""
                raise S3Error("IncompleteBody", "The chunked body ended mid-line.", 400)
        line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        return line

    def take(self, most: int) -> bytes:
        if not self.buffer and not self._fill():
            raise S3Error("IncompleteBody", "The chunked body ended mid-chunk.", 400)
        block, self.buffer = self.buffer[:most], self.buffer[most:]
        return block

    def drain(self) -> None:
        while self._fill():
            self.buffer = b""
