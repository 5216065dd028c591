"""An S3-compatible endpoint over the platform's object store: apps use boto3 unchanged.

Path-style addressing (what SDKs use for a custom endpoint), SigV4 with the app's own key
(the same key as for SQS), and each app sees only the buckets its spec declares. The
subset: ListBuckets, HeadBucket, ListObjectsV2 / ListObjects (prefix, delimiter,
pagination), PutObject, GetObject (with a byte range), HeadObject, DeleteObject. Over HTTPS
SDKs send uploads ``aws-chunked`` with a checksum trailer: decoded, and the checksum checked
(CRC32, SHA-1, SHA-256). Errors carry S3's codes in S3's XML shape. Not implemented:
multipart upload (boto3 switches to it above 8 MB; raise its ``multipart_threshold``
meanwhile), versions, ACLs, presigned URLs.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from comind.api.auth import signing_app
from comind.api.sigv4 import AuthError
from comind.apps.credentials import Credentials
from comind.stores.objects import ObjectInfo, ObjectStore, ObjectStoreError

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_KEYS = 1000
CHECKSUMS: dict[str, Callable[[bytes], bytes]] = {
    "x-amz-checksum-crc32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "x-amz-checksum-sha1": lambda data: hashlib.sha1(data, usedforsecurity=False).digest(),
    "x-amz-checksum-sha256": lambda data: hashlib.sha256(data).digest(),
}


class S3Error(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def no_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", f"The specified bucket does not exist: {bucket}", 404)


class S3Endpoint:
    """One ASGI handler for every S3 request."""

    def __init__(
        self, store: ObjectStore, credentials: Credentials, buckets: Callable[[str], list[str]]
    ) -> None:
        self.store, self.credentials, self.buckets = store, credentials, buckets

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        try:
            response = await run_in_threadpool(self._serve, request, body)
        except AuthError as exc:
            response = _error(exc.code, exc.message, exc.status)
        except S3Error as exc:
            response = _error(exc.code, exc.message, exc.status)
        if request.method == "HEAD":
            response.body = b""  # HEAD answers carry the headers only
        await response(scope, receive, send)

    def _serve(self, request: Request, body: bytes) -> Response:
        app = signing_app(request, body, self.credentials, s3=True)
        if "aws-chunked" in request.headers.get("content-encoding", ""):
            body = decode_chunked(body, request.headers.get("x-amz-decoded-content-length"))
        raw_path = request.scope.get("raw_path", b"/").decode() or "/"
        bucket, _, key = unquote(raw_path.lstrip("/")).partition("/")
        if not bucket:
            return self._list_buckets(app)
        if bucket not in self.buckets(app):
            raise no_bucket(bucket)  # another app's bucket does not exist for this app
        query = parse_qs(request.scope.get("query_string", b"").decode(), keep_blank_values=True)
        if not key:
            return self._bucket_call(request.method, bucket, query)
        return self._object_call(request, bucket, key, body)

    # --- buckets ----------------------------------------------------------------------

    def _list_buckets(self, app: str) -> Response:
        entries = "".join(
            f"<Bucket><Name>{escape(b)}</Name><CreationDate>{_iso(None)}</CreationDate></Bucket>"
            for b in sorted(self.buckets(app))
        )
        owner = f"<Owner><ID>{escape(app)}</ID><DisplayName>{escape(app)}</DisplayName></Owner>"
        return _xml("ListAllMyBucketsResult", f"{owner}<Buckets>{entries}</Buckets>")

    def _bucket_call(self, method: str, bucket: str, query: dict[str, list[str]]) -> Response:
        if self.store.bucket_config(bucket) is None:
            raise no_bucket(bucket)
        if method == "HEAD":
            return Response(status_code=200)
        if method != "GET":
            raise S3Error("NotImplemented", f"{method} on a bucket is not supported", 501)
        if "location" in query:
            return _xml("LocationConstraint", "")
        return self._list_objects(bucket, query)

    def _list_objects(self, bucket: str, query: dict[str, list[str]]) -> Response:
        def arg(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        v2 = arg("list-type") == "2"
        prefix, delimiter = arg("prefix"), arg("delimiter")
        limit = min(int(arg("max-keys", str(MAX_KEYS)) or MAX_KEYS), MAX_KEYS)
        after = _token_key(arg("continuation-token")) if v2 else arg("marker")
        after = max(after, arg("start-after")) if v2 else after
        objects, prefixes, truncated = _page(self.store.list(bucket, prefix), prefix, delimiter,
                                             after, limit)  # fmt: skip
        parts = [
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
            f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        parts += [_contents(o) for o in objects]
        parts += [
            f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
        ]
        last = max([o.key for o in objects] + prefixes, default="")
        if v2:
            parts.append(f"<KeyCount>{len(objects) + len(prefixes)}</KeyCount>")
            if truncated:
                parts.append(f"<NextContinuationToken>{_token(last)}</NextContinuationToken>")
        elif truncated:
            parts.append(f"<NextMarker>{escape(last)}</NextMarker>")
        return _xml("ListBucketResult", "".join(parts))

    # --- objects ----------------------------------------------------------------------

    def _object_call(self, request: Request, bucket: str, key: str, body: bytes) -> Response:
        try:
            if request.method == "PUT":
                return self._put(request, bucket, key, body)
            if request.method in ("GET", "HEAD"):
                return self._get(request, bucket, key)
            if request.method == "DELETE":
                self.store.delete(bucket, key)
                return Response(status_code=204)
        except ObjectStoreError as exc:
            raise S3Error("InvalidArgument", str(exc), 400) from None
        raise S3Error("NotImplemented", f"{request.method} on an object is not supported", 501)

    def _put(self, request: Request, bucket: str, key: str, body: bytes) -> Response:
        if request.headers.get("x-amz-copy-source"):
            raise S3Error("NotImplemented", "CopyObject is not supported", 501)
        md5 = request.headers.get("content-md5")
        if (
            md5
            and base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode() != md5
        ):
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
            )
        info = self.store.put(bucket, key, body)
        return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})

    def _get(self, request: Request, bucket: str, key: str) -> Response:
        info = self.store.head(bucket, key)
        if info is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", 404)
        headers = {"ETag": f'"{info.etag}"', "Last-Modified": format_datetime(info.modified, True),
                   "Accept-Ranges": "bytes"}  # fmt: skip
        data = b"" if request.method == "HEAD" else self.store.get(bucket, key)
        wanted = _range(request.headers.get("range"), info.size)
        if wanted is None:
            headers["Content-Length"] = str(info.size)
            return Response(data, 200, headers, media_type="application/octet-stream")
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        return Response(data[start : end + 1], 206, headers, media_type="application/octet-stream")


def decode_chunked(body: bytes, decoded_length: str | None) -> bytes:
    """The data of an ``aws-chunked`` body (``HEX-SIZE\\r\\nDATA\\r\\n`` chunks, a last
    ``0`` chunk, trailer lines ``name:value``), checked against its declared length and the
    trailer's checksum."""
    data, trailer = _chunks(body)
    if decoded_length is not None and decoded_length != str(len(data)):
        raise S3Error("IncompleteBody", "The body is not as long as its declared length.", 400)
    for name, value in trailer.items():
        digest = CHECKSUMS.get(name)
        if digest is not None and base64.b64encode(digest(data)).decode() != value:
            raise S3Error("BadDigest", f"The {name} you specified did not match the data.", 400)
    return data


def _chunks(body: bytes) -> tuple[bytes, dict[str, str]]:
    parts, at = [], 0
    while True:
        end = body.find(b"\r\n", at)
        size_line = body[at:end].split(b";")[0] if end >= 0 else b""
        if not size_line or size_line.strip(b"0123456789abcdefABCDEF"):
            raise S3Error("IncompleteBody", "A chunk of the body is malformed.", 400)
        size, at = int(size_line, 16), end + 2
        if size == 0:
            break
        if body[at + size : at + size + 2] != b"\r\n":
            raise S3Error("IncompleteBody", "A chunk of the body is cut short.", 400)
        parts.append(body[at : at + size])
        at += size + 2
    lines = (line.decode("latin-1").partition(":") for line in body[at:].split(b"\r\n"))
    return b"".join(parts), {k.strip().lower(): v.strip() for k, sep, v in lines if sep}


def _page(
    listing: Any, prefix: str, delimiter: str, after: str, limit: int
) -> tuple[list[ObjectInfo], list[str], bool]:
    objects: list[ObjectInfo] = []
    prefixes: list[str] = []
    for info in listing:
        if info.key <= after:
            continue
        rest = info.key[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest.split(delimiter, 1)[0] + delimiter
            if common <= after or (prefixes and prefixes[-1] == common):
                continue
            if len(objects) + len(prefixes) == limit:
                return objects, prefixes, True
            prefixes.append(common)
            continue
        if len(objects) + len(prefixes) == limit:
            return objects, prefixes, True
        objects.append(info)
    return objects, prefixes, False


def _contents(o: ObjectInfo) -> str:
    return (f"<Contents><Key>{escape(o.key)}</Key><LastModified>{_iso(o.modified)}</LastModified>"
            f"<ETag>&quot;{o.etag}&quot;</ETag><Size>{o.size}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>")  # fmt: skip


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    try:
        if not first:
            return max(0, size - int(last)), size - 1
        return int(first), min(size - 1, int(last)) if last else size - 1
    except ValueError:
        return None


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _token_key(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode() if token else ""
    except ValueError:
        raise S3Error(
            "InvalidArgument", "The continuation token provided is incorrect", 400
        ) from None


def _iso(when: datetime | None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _xml(root: str, inner: str) -> Response:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'
    return Response(text, 200, media_type="application/xml")


def _error(code: str, message: str, status: int) -> Response:
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message><RequestId>{uuid.uuid4()}</RequestId></Error>"
    )
    return Response(text, status, media_type="application/xml")
