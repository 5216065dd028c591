"""``aws-chunked`` upload bodies, as SDKs send them over HTTPS: decoded exactly as botocore
encodes them, refused when malformed, cut short, of another length or checksum."""

from __future__ import annotations

import io

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha256Checksum

from comind.api.s3 import S3Error, decode_chunked

DATA = b"order 1\r\norder 2\n" * 100


@pytest.mark.parametrize(
    ("checksum", "name"),
    [(Crc32Checksum, "x-amz-checksum-crc32"), (Sha256Checksum, "x-amz-checksum-sha256")],
)
def test_what_botocore_sends_decodes_to_the_data(checksum: type, name: str) -> None:
    body = AwsChunkedWrapper(io.BytesIO(DATA), checksum, name, chunk_size=512).read()
    assert decode_chunked(body, str(len(DATA))) == DATA
    assert decode_chunked(b"0\r\n\r\n", "0") == b""


def code(body: bytes, length: str | None = None) -> str:
    with pytest.raises(S3Error) as refused:
        decode_chunked(body, length)
    return refused.value.code


def test_a_body_that_is_not_what_it_says_is_refused() -> None:
    body = AwsChunkedWrapper(io.BytesIO(DATA), Crc32Checksum, "x-amz-checksum-crc32").read()
    assert code(body.replace(b"order 2", b"order 3", 1)) == "BadDigest"
    assert code(body, str(len(DATA) + 1)) == "IncompleteBody"
    assert code(b"5\r\nabc\r\n0\r\n\r\n") == "IncompleteBody"  # shorter than its size
    for malformed in (b"", b"zz\r\nabc\r\n", b"-3\r\nabc\r\n", b"3\r\nabc\r\n"):
        assert code(malformed) == "IncompleteBody"
