"""What a body must be before the S3 endpoint keeps it (issue 15, findings 3 and 10): over
plain HTTP the payload is signed (UNSIGNED-PAYLOAD is refused, so a captured request cannot
carry another body), the signed hash is checked against the body as it streams in, a body
over the cap is refused from its Content-Length before a byte is read, and a request that
is not signed is answered without its body being read. Over HTTPS, SDKs' unsigned and
aws-chunked uploads stay accepted."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import httpx
import pytest
from tests.integration.s3kit import captured, client, code, serving, status

from comind.api.tls import self_signed
from comind.platform import Platform

BUCKET = "pay-files"
OWNED = {"pay-shop": [BUCKET]}
CAP = 1 << 20


@pytest.fixture(scope="module")
def endpoint(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = Path(tmp_path_factory.mktemp("objects"))
    with serving(runtime, root, OWNED, max_object=CAP) as (url, _):
        yield url


@pytest.fixture(scope="module")
def s3(runtime: Platform, endpoint: str) -> Any:
    return client(runtime, endpoint, "pay-shop")


def test_boto3_signs_payloads_on_http_and_unsigned_ones_are_refused(
    runtime: Platform, endpoint: str, s3: Any
) -> None:
    sent = captured(s3, "PutObject", Bucket=BUCKET, Key="k", Body=b"data")
    assert len(sent["headers"]["X-Amz-Content-SHA256"]) == 64  # the body's hash, signed
    unsigned = client(runtime, endpoint, "pay-shop", s3={"payload_signing_enabled": False})
    with pytest.raises(botocore.exceptions.ClientError) as err:
        unsigned.put_object(Bucket=BUCKET, Key="unsigned.txt", Body=b"data")
    assert (code(err), status(err)) == ("AccessDenied", 403)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="unsigned")


def test_a_captured_put_replayed_with_another_body_changes_nothing(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="replay.txt", Body=b"original")
    signed = captured(s3, "PutObject", Bucket=BUCKET, Key="replay.txt", Body=b"good")
    forged = (b"evil" * 40_000 for _ in range(4))  # streamed in several blocks
    answer = httpx.put(signed["url"], content=forged, headers={
        **signed["headers"], "Content-Length": str(4 * 160_000)})  # fmt: skip
    assert answer.status_code == 400 and b"XAmzContentSHA256Mismatch" in answer.content
    assert s3.get_object(Bucket=BUCKET, Key="replay.txt")["Body"].read() == b"original"
    replayed = httpx.put(signed["url"], content=b"good", headers=signed["headers"])
    assert replayed.status_code == 200  # the body it was signed for is accepted


def test_a_body_over_the_cap_is_refused_from_its_length_before_it_is_sent(
    runtime: Platform, s3: Any
) -> None:
    signed = captured(s3, "PutObject", Bucket=BUCKET, Key="big.bin", Body=b"x" * (CAP + 1))
    answer = _headers_only(signed["url"], "PUT", signed["headers"])
    assert answer.startswith(b"HTTP/1.1 400") and b"EntityTooLarge" in answer
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="big.bin", Body=b"x" * (CAP + 1))
    assert code(err) == "EntityTooLarge"
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=b"x" * CAP)  # the cap itself is fine


def test_an_unsigned_request_is_refused_without_reading_its_body(endpoint: str) -> None:
    url = f"{endpoint}/{BUCKET}/huge.bin"
    answer = _headers_only(url, "PUT", {"Content-Length": str(400 << 20)})
    assert answer.startswith(b"HTTP/1.1 403") and b"MissingAuthenticationToken" in answer


def test_over_https_unsigned_and_aws_chunked_uploads_are_accepted(
    runtime: Platform, tmp_path: Path
) -> None:
    tls = self_signed(tmp_path / "tls", "127.0.0.1")
    with serving(runtime, tmp_path / "objects", OWNED, tls=tls) as (url, _):
        s3 = client(runtime, url, "pay-shop", verify=str(tls.cert))
        sent = captured(s3, "PutObject", Bucket=BUCKET, Key="k", Body=b"data")
        assert sent["headers"]["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        s3.put_object(Bucket=BUCKET, Key="tls.txt", Body=b"over tls", ContentType="text/plain")
        got = s3.get_object(Bucket=BUCKET, Key="tls.txt")
        assert (got["Body"].read(), got["ContentType"]) == (b"over tls", "text/plain")
        source = tmp_path / "up.bin"
        source.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: a multipart upload
        s3.upload_file(str(source), BUCKET, "tls/up.bin")
        s3.download_file(BUCKET, "tls/up.bin", str(tmp_path / "down.bin"))
        assert (tmp_path / "down.bin").read_bytes() == source.read_bytes()


def _headers_only(url: str, method: str, headers: dict[str, str]) -> bytes:
    """Send a request's headers and none of its body; the answer (the server must not
    wait for the body to answer)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "expect")]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return conn.recv(65536)


def test_a_client_cannot_claim_https_with_a_forwarded_header(
    runtime: Platform, endpoint: str, s3: Any
) -> None:
    """Any app on loopback could send X-Forwarded-Proto: https, and uvicorn believed it:
    an unsigned payload over plain HTTP was then accepted, and a replay with a new body too."""
    unsigned = client(runtime, endpoint, "pay-shop", s3={"payload_signing_enabled": False})
    sent = captured(unsigned, "PutObject", Bucket=BUCKET, Key="forwarded.txt", Body=b"data")
    answer = httpx.put(sent["url"], content=b"EVIL",  # another body of the same length
                       headers={**sent["headers"], "X-Forwarded-Proto": "https"})  # fmt: skip
    assert answer.status_code == 403
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="forwarded")


def test_a_nul_in_a_key_is_a_clear_refusal(s3: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="a\x00b", Body=b"x")
    assert status(err) == 400
