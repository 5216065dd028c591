"""An S3-compatible endpoint over the platform's object store: apps use boto3 and the AWS CLI
unchanged.

Path-style addressing (what SDKs use for a custom endpoint), SigV4 with the app's own key
(the same key as for SQS), and each app sees only the buckets its spec declares. One request
runs in this order: the signature is checked on the headers alone (a body is never read for
an unauthenticated request); the bucket must be the app's; the operation is chosen from the
method and the sub-resources of the query string (:mod:`.s3_routes`: a sub-resource or
parameter not served here answers ``NotImplemented`` before anything is touched); then the
operation runs in a worker thread, pulling the body block by block as it stores it
(:mod:`.s3_body`: the signed payload hash, ``aws-chunked`` framing, Content-MD5 and
checksums checked as it streams, 5 GiB per object or part), and GET answers stream from the
file. Over plain HTTP the payload must be signed (``UNSIGNED-PAYLOAD`` is refused), so a
captured request cannot be replayed with another body; over HTTPS SDKs send it unsigned or
``aws-chunked`` with a checksum trailer, both accepted.

Served: ListBuckets, HeadBucket, GetBucketLocation, GetBucketVersioning, ListObjects(V2),
ListObjectVersions, DeleteObjects, Get/Head/Put/Copy/DeleteObject (Content-Type and
``x-amz-meta-*`` kept, ranges, conditional requests), object tagging, multipart upload, and
versions (version ids, delete markers) in a bucket whose spec says ``versioning: true``.
Errors carry S3's codes in S3's XML shape. Every request is counted in
``comind_s3_request_duration_seconds`` by operation and status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from comind.api.auth import signing_app
from comind.api.s3_body import MAX_OBJECT, Body, payload_claim
from comind.api.s3_buckets import BucketCalls
from comind.api.s3_errors import (
    S3Error,
    beyond_reach,
    error_response,
    from_store,
    invalid,
    no_bucket,
)
from comind.api.s3_multipart import MultipartCalls
from comind.api.s3_objects import ObjectCalls
from comind.api.s3_routes import Reach, S3Call, operation, query_of, reached
from comind.api.sigv4 import AuthError
from comind.apps.credentials import Credentials
from comind.observe.metrics import S3_REQUESTS
from comind.stores.object_model import ObjectStoreError
from comind.stores.objects import ObjectStore

log = logging.getLogger(__name__)
Handler = Callable[[S3Call], Response]


class S3Endpoint:
    """One ASGI handler for every S3 request. ``buckets(app)`` names the buckets the app's
    spec declares (each whole), or a flow key's buckets and the prefixes it may reach in
    each (red team 21f L2); whether a bucket keeps versions is its setting in the store (the bucket
    provider writes the spec's ``versioning`` there)."""

    def __init__(
        self, store: ObjectStore, credentials: Credentials, buckets: Callable[[str], Reach],
        *, max_object: int = MAX_OBJECT,
    ) -> None:  # fmt: skip
        self.store, self.credentials, self.buckets = store, credentials, buckets
        self.max_object = max_object
        self.bucket_calls = BucketCalls(store, buckets)
        objects, multipart = ObjectCalls(store, buckets), MultipartCalls(store)
        self.handlers: dict[str, Handler] = {
            "GetObject": objects.get, "HeadObject": objects.get, "PutObject": objects.put,
            "CopyObject": objects.put,
            "DeleteObject": objects.delete, "GetObjectTagging": objects.get_tagging,
            "PutObjectTagging": objects.put_tagging,
            "DeleteObjectTagging": objects.delete_tagging,
            "CreateMultipartUpload": multipart.create, "UploadPart": multipart.upload_part,
            "CompleteMultipartUpload": multipart.complete,
            "AbortMultipartUpload": multipart.abort, "ListParts": multipart.list_parts,
            "ListMultipartUploads": multipart.list_uploads,
            "ListObjects": self.bucket_calls.list_objects, "HeadBucket": self.bucket_calls.head,
            "GetBucketLocation": self.bucket_calls.location,
            "GetBucketVersioning": self.bucket_calls.versioning,
            "ListObjectVersions": self.bucket_calls.list_versions,
            "DeleteObjects": self.bucket_calls.delete_objects,
        }  # fmt: skip

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started, named = time.monotonic(), ["Unknown"]
        request = Request(scope, receive)
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = Body(receive, headers, self.max_object)
        try:
            response = await self._serve(request, headers, body, named)
        except (AuthError, S3Error) as exc:
            response = error_response(_s3_error(exc))
        except Exception:
            log.exception("S3 %s failed", named[0])
            response = error_response(S3Error("InternalError", "We encountered an internal "
                                              "error. Please try again.", 500))  # fmt: skip
        if scope["method"] == "HEAD" and not isinstance(response, StreamingResponse):
            response.body = b""  # HEAD answers carry the headers only
        if body.left_unread():
            response.headers["Connection"] = "close"
        S3_REQUESTS.labels(named[0], str(response.status_code)).observe(time.monotonic() - started)
        await response(scope, receive, send)

    async def _serve(
        self, request: Request, headers: dict[str, str], body: Body, named: list[str]
    ) -> Response:
        app = signing_app(request, b"", self.credentials, s3=True)  # the headers only
        body.claim = payload_claim(headers, secure=request.url.scheme == "https")
        raw_path = request.scope.get("raw_path", b"/").decode() or "/"
        bucket, _, key = unquote(raw_path.lstrip("/")).partition("/")
        if "\x00" in bucket or "\x00" in key:  # no file (nor S3) name holds one
            raise invalid("Object and bucket names may not contain a NUL character")
        query = query_of(request.scope.get("query_string", b"").decode())
        if not bucket:
            named[0] = "ListBuckets"
            return self.bucket_calls.list_buckets(app)
        reach = self.buckets(app)
        if bucket not in reach or self.store.bucket_config(bucket) is None:
            raise no_bucket(bucket)  # another app's bucket does not exist for this app
        named[0] = operation(request.method, key, query)
        if named[0] == "PutObject" and headers.get("x-amz-copy-source"):
            named[0] = "CopyObject"
        call = S3Call(named[0], request.method, headers, app, bucket, key, query, body)
        if not reached(reach, call):
            raise beyond_reach(bucket, key or call.arg("prefix"))
        return await run_in_threadpool(self._run, call)

    def _run(self, call: S3Call) -> Response:
        try:
            return self.handlers[call.operation](call)
        except ObjectStoreError as exc:
            raise from_store(exc) from None


def _s3_error(exc: AuthError | S3Error) -> S3Error:
    if isinstance(exc, AuthError):
        return S3Error(exc.code, exc.message, exc.status)
    return exc
