"""``aws-chunked`` upload bodies, as SDKs send them over HTTPS, decoded as they stream in
(blocks cut anywhere): exactly as botocore encodes them, refused when malformed, cut short,
of another length or checksum, or over the cap."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha256Checksum

from comind.api.s3_body import decoded
from comind.api.s3_errors import S3Error

DATA = b"order 1\r\norder 2\n" * 100
CRC = "x-amz-checksum-crc32"


def blocks(body: bytes, size: int = 7) -> Iterator[bytes]:
    return (body[at : at + size] for at in range(0, len(body), size))


def headers(length: int | None = len(DATA), trailer: str = CRC) -> dict[str, str]:
    found = {"content-encoding": "aws-chunked", "x-amz-trailer": trailer}
    return found if length is None else {**found, "x-amz-decoded-content-length": str(length)}


def decode(body: bytes, given: dict[str, str], limit: int = 1 << 20) -> bytes:
    return b"".join(decoded(blocks(body), given, limit))


@pytest.mark.parametrize(
    ("checksum", "name"), [(Crc32Checksum, CRC), (Sha256Checksum, "x-amz-checksum-sha256")]
)
def test_what_botocore_sends_decodes_to_the_data(checksum: type, name: str) -> None:
    body = AwsChunkedWrapper(io.BytesIO(DATA), checksum, name, chunk_size=512).read()
    assert decode(body, headers(trailer=name)) == DATA
    assert decode(b"0\r\n\r\n", headers(0, trailer="")) == b""


def code(body: bytes, given: dict[str, str], limit: int = 1 << 20) -> str:
    with pytest.raises(S3Error) as refused:
        decode(body, given, limit)
    return refused.value.code


def test_a_body_that_is_not_what_it_says_is_refused() -> None:
    body = AwsChunkedWrapper(io.BytesIO(DATA), Crc32Checksum, CRC).read()
    assert code(body.replace(b"order 2", b"order 3", 1), headers()) == "BadDigest"
    assert code(body, headers(len(DATA) + 1)) == "IncompleteBody"
    assert code(body, headers(trailer="")) == "InvalidRequest"  # a trailer not announced
    assert code(body, headers(), limit=100) == "EntityTooLarge"
    assert code(b"5\r\nabc\r\n0\r\n\r\n", headers(None)) == "IncompleteBody"  # cut short
    for malformed in (b"", b"zz\r\nabc\r\n", b"-3\r\nabc\r\n", b"3\r\nabc\r\n"):
        assert code(malformed, headers(None)) == "IncompleteBody"
