"""Which app signed a request: SigV4 over the platform's per-app credentials (SQS and S3;
a flow's own key, S3 only)."""

from __future__ import annotations

from starlette.requests import Request

from comind.api.sigv4 import AuthError, verify
from comind.api.sigv4 import Request as SignedRequest
from comind.apps.credentials import Credentials
from comind.spec.names import is_flow_principal


def signing_app(
    request: Request, body: bytes, credentials: Credentials, *, s3: bool = False
) -> str:
    """The app whose key validly signed ``request``, or :class:`~comind.api.sigv4.AuthError`."""
    signed = SignedRequest(
        method=request.method,
        raw_path=request.scope.get("raw_path", b"/").decode() or "/",
        raw_query=request.scope.get("query_string", b"").decode(),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )

    def secret(key_id: str) -> str | None:
        key = credentials.lookup(key_id)
        return key.secret if key else None

    key = credentials.lookup(verify(signed, secret, s3=s3))
    assert key is not None  # verify() succeeded, so the key exists
    if is_flow_principal(key.app) and not s3:  # a flow's workers write its output objects
        raise AuthError("AccessDenied", "a flow's key is for the S3 endpoint only", 403)
    return key.app
