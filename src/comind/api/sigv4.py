"""Verifying AWS Signature Version 4 on incoming requests (what boto3 and aws-cli send).

The server recomputes the canonical request from what arrived (method, path, query,
the headers the client says it signed, the payload hash), derives the signing key
from the secret of the access key id named in the credential scope, and compares
signatures in constant time. Requests dated more than 15 minutes away are refused
(AWS's window), so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


class AuthError(Exception):
    """Why a request is not authenticated: ``code`` as AWS names it, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request SigV4 covers."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def verify(
    request: Request,
    secret_for: Callable[[str], str | None],
    *,
    now: datetime | None = None,
    s3: bool = False,
) -> str:
    """The access key id that validly signed ``request``, or :class:`AuthError`.

    ``s3``: S3's variant: the path is signed as sent (not normalized, not encoded again),
    and only the headers are checked here: the body has not been read yet. The payload hash
    the signature covers (``x-amz-content-sha256``) is then checked by the S3 endpoint
    against the body as it streams in (see ``api/s3_body.py``). Otherwise a payload hash the
    client sends must match ``request.body``, so a signed request cannot carry another
    body."""
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("MissingAuthenticationToken", "Request is missing Authentication Token")
    match = _AUTH.match(header.strip())
    if not match:
        raise AuthError(
            "IncompleteSignature",
            "Authorization header is not a valid SigV4 AWS4-HMAC-SHA256 signature",
        )
    amz_date = request.headers.get("x-amz-date", "")
    _check_date(amz_date, match["date"], now or datetime.now(UTC))
    secret = secret_for(match["key"])
    if secret is None:
        raise AuthError(
            "InvalidClientTokenId", "The security token included in the request is invalid."
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise AuthError("IncompleteSignature", "SignedHeaders must include host")
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    if not s3:
        _check_payload(request)
    expected = signature(request, signed, amz_date, scope, secret, s3=s3)
    if not hmac.compare_digest(expected, match["signature"]):
        raise AuthError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return match["key"]


def signature(
    request: Request, signed: list[str], amz_date: str, scope: str, secret: str, *, s3: bool = False
) -> str:
    """The hex signature of ``request`` (also used by tests and clients to sign)."""
    canonical = canonical_request(request, signed, s3=s3)
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    date, region, service, _ = scope.split("/")
    key = _signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key: the same for a day, so derived once per key, day and scope."""
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_request(request: Request, signed: list[str], *, s3: bool = False) -> str:
    headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in sorted(signed)
    )
    payload = (
        request.headers.get("x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    )
    return "\n".join(
        [
            request.method.upper(),
            (request.raw_path or "/") if s3 else _canonical_uri(request.raw_path),
            _canonical_query(request.raw_query),
            headers,
            ";".join(sorted(signed)),
            payload,
        ]
    )


def _canonical_uri(raw_path: str) -> str:
    path = posixpath.normpath(raw_path or "/")
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return quote(path.replace("//", "/"), safe="/~")


def _canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = [pair.partition("=") for pair in raw_query.split("&")]
    return "&".join(f"{k}={v}" for k, _, v in sorted((k, s, v) for k, s, v in pairs))


def _check_payload(request: Request) -> None:
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed is None:
        return
    if claimed != hashlib.sha256(request.body).hexdigest():
        raise AuthError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
        )


def _check_date(amz_date: str, scope_date: str, now: datetime) -> None:
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError(
            "IncompleteSignature", "X-Amz-Date header is missing or malformed", 400
        ) from None
    if abs(now - when) > MAX_SKEW or amz_date[:8] != scope_date:
        raise AuthError("RequestExpired", "Request has expired.", 400)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()
