"""SigV4 verification against requests signed by botocore itself (the signer boto3 uses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from comind.api.sigv4 import AuthError, Request, verify

KEYS = {"AKIDORDERS": "orders-secret", "AKIDPAY": "payments-secret"}


def signed(
    key: str = "AKIDORDERS",
    secret: str | None = None,
    body: bytes = b'{"a":1}',
    url: str = "http://127.0.0.1:8470/",
    method: str = "POST",
) -> Request:
    aws = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.ListQueues",
        },
    )
    SigV4Auth(Credentials(key, secret or KEYS[key]), "sqs", "us-east-1").add_auth(aws)
    prepared = aws.prepare()
    path, _, query = url.split("8470", 1)[1].partition("?")
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = "127.0.0.1:8470"
    return Request(method, path or "/", query, headers, body)


def test_a_botocore_signature_verifies() -> None:
    assert verify(signed(), KEYS.get) == "AKIDORDERS"


def test_query_strings_and_paths_verify() -> None:
    url = "http://127.0.0.1:8470/000000000001/my-queue?Action=ReceiveMessage&b=2&a=1"
    assert verify(signed(url=url, body=b""), KEYS.get) == "AKIDORDERS"


def test_a_tampered_body_is_refused() -> None:
    req = signed()
    tampered = Request(req.method, req.raw_path, req.raw_query, req.headers, b'{"a":2}')
    with pytest.raises(AuthError) as err:
        verify(tampered, KEYS.get)
    assert err.value.code == "SignatureDoesNotMatch"


def test_another_apps_secret_does_not_verify() -> None:
    with pytest.raises(AuthError, match="does not match"):
        verify(signed("AKIDORDERS", secret="payments-secret"), KEYS.get)


def test_unknown_key_unsigned_and_stale_requests() -> None:
    with pytest.raises(AuthError) as unknown:
        verify(signed("AKIDORDERS"), {}.get)
    assert unknown.value.code == "InvalidClientTokenId"
    req = signed()
    unsigned = Request(
        req.method,
        req.raw_path,
        req.raw_query,
        {k: v for k, v in req.headers.items() if k != "authorization"},
        req.body,
    )
    with pytest.raises(AuthError) as missing:
        verify(unsigned, KEYS.get)
    assert missing.value.code == "MissingAuthenticationToken"
    later = datetime.now(UTC) + timedelta(minutes=20)
    with pytest.raises(AuthError) as stale:
        verify(req, KEYS.get, now=later)
    assert (stale.value.code, stale.value.status) == ("RequestExpired", 400)
