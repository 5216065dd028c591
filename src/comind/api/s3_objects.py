"""S3's object operations: Get/Head (conditional, ranged, streamed from the file), Put
(streamed into the store, conditional), Copy (metadata and tagging directives), Delete,
and object tagging. Content-Type and ``x-amz-meta-*`` are stored with the object and
returned as they were given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response, StreamingResponse

from comind.api.s3_errors import S3Error, beyond_reach, invalid, no_bucket, not_implemented
from comind.api.s3_routes import Reach, S3Call, query_of, within
from comind.api.s3_xml import el, iso, parse_tagging, tagging_xml, tags_header, xml
from comind.stores.object_model import (
    DEFAULT_TYPE,
    Attributes,
    Condition,
    ObjectInfo,
    StoredObject,
)
from comind.stores.objects import ObjectStore

MAX_METADATA = 2048  # bytes of user metadata, as S3
TAGGING_BODY = 64 << 10
_OVERRIDES = {"response-content-type": "Content-Type", "response-cache-control": "Cache-Control",
              "response-content-disposition": "Content-Disposition",
              "response-content-encoding": "Content-Encoding",
              "response-content-language": "Content-Language",
              "response-expires": "Expires"}  # fmt: skip


class ObjectCalls:
    def __init__(self, store: ObjectStore, owned: Callable[[str], Reach]) -> None:
        self.store, self.owned = store, owned

    def get(self, call: S3Call) -> Response:
        opened = self.store.open(call.bucket, call.key, version_id=call.query.get("versionId"))
        try:
            return _answer(call, opened)
        except BaseException:
            opened.close()
            raise

    def put(self, call: S3Call) -> Response:
        if call.headers.get("x-amz-copy-source"):
            return self._copy(call)
        info = self.store.put_stream(call.bucket, call.key, call.body.blocks(),
                                     attributes=attributes_of(call.headers),
                                     condition=_write_condition(call.headers))  # fmt: skip
        return Response(status_code=200, headers=_written(info))

    def delete(self, call: S3Call) -> Response:
        done = self.store.delete(call.bucket, call.key, version_id=call.query.get("versionId"))
        headers = {"x-amz-version-id": done.version_id} if done.version_id else {}
        if done.delete_marker:
            headers["x-amz-delete-marker"] = "true"
        return Response(status_code=204, headers=headers)

    def get_tagging(self, call: S3Call) -> Response:
        info = self.store.head(call.bucket, call.key, version_id=call.query.get("versionId"))
        if info is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", 404)
        return xml("Tagging", tagging_xml(info.attributes.tags), _version(info))

    def put_tagging(self, call: S3Call) -> Response:
        tags = parse_tagging(call.body.read(TAGGING_BODY))
        info = self.store.set_tags(call.bucket, call.key, tags,
                                   version_id=call.query.get("versionId"))  # fmt: skip
        return Response(status_code=200, headers=_version(info))

    def delete_tagging(self, call: S3Call) -> Response:
        info = self.store.set_tags(call.bucket, call.key, {},
                                   version_id=call.query.get("versionId"))  # fmt: skip
        return Response(status_code=204, headers=_version(info))

    def _copy(self, call: S3Call) -> Response:
        bucket, key, version = _copy_source(call.headers["x-amz-copy-source"])
        reach = self.owned(call.app)
        if bucket not in reach:
            raise no_bucket(bucket)  # another app's bucket does not exist for this app
        if not within(reach, bucket, key):
            raise beyond_reach(bucket, key)
        source = self.store.open(bucket, key, version_id=version)
        try:
            attributes = _copied_attributes(call, source.info, (bucket, key))
            _check_copy_source(call.headers, source.info)
        except BaseException:
            source.close()
            raise
        info = self.store.put_stream(call.bucket, call.key, source.blocks(),
                                     attributes=attributes,
                                     condition=_write_condition(call.headers))  # fmt: skip
        headers = _version(info)
        if source.info.version_id:
            headers["x-amz-copy-source-version-id"] = source.info.version_id
        result = el("ETag", f'"{info.etag}"') + el("LastModified", iso(info.modified))
        return xml("CopyObjectResult", result, headers)


def attributes_of(headers: Mapping[str, str]) -> Attributes:
    """Content-Type, ``x-amz-meta-*`` and ``x-amz-tagging`` of a write."""
    metadata = {k[11:]: v for k, v in headers.items() if k.startswith("x-amz-meta-")}
    if sum(len(k) + len(v) for k, v in metadata.items()) > MAX_METADATA:
        raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed "
                      f"metadata size ({MAX_METADATA} bytes).", 400)  # fmt: skip
    content_type = headers.get("content-type") or DEFAULT_TYPE
    return Attributes(content_type, metadata, tags_header(headers.get("x-amz-tagging")))


def object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {"ETag": f'"{info.etag}"', "Last-Modified": format_datetime(info.modified, True),
               "Accept-Ranges": "bytes", "Content-Type": info.attributes.content_type}  # fmt: skip
    headers.update({f"x-amz-meta-{k}": v for k, v in info.attributes.metadata.items()})
    if info.attributes.tags:
        headers["x-amz-tagging-count"] = str(len(info.attributes.tags))
    return {**headers, **_version(info)}


def _answer(call: S3Call, opened: StoredObject) -> Response:
    info = opened.info
    headers = object_headers(info)
    if _not_modified(call.headers, info):
        opened.close()
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Last-Modified")})
    headers.update({h: call.query[q] for q, h in _OVERRIDES.items() if q in call.query})
    wanted = _range(call.headers.get("range"), info.size)
    start, end = wanted or (0, info.size - 1)
    headers["Content-Length"] = str(max(0, end - start + 1))
    if wanted:
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    status = 206 if wanted else 200
    if call.method == "HEAD":
        opened.close()
        return Response(status_code=status, headers=headers)
    # blocks() positions at once: an encrypted object whose first chunk does not decrypt
    # raises here, and answers an error rather than a cut stream
    blocks = opened.blocks(start, end)
    # the type as given, in the headers: starlette would add a charset to a media_type
    return _Streamed(opened, blocks, status, headers)


class _Streamed(StreamingResponse):
    """A GET's answer, streamed from the open file, which is closed however it ends (the
    client may go away before the first block)."""

    def __init__(self, opened: StoredObject, *args: Any) -> None:
        super().__init__(*args)
        self.opened = opened

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.opened.close()


def _not_modified(headers: Mapping[str, str], info: ObjectInfo) -> bool:
    """HTTP's conditional GET as S3 evaluates it: True for 304, 412 raised."""
    etag, modified = f'"{info.etag}"', info.modified.replace(microsecond=0)
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_match is not None and not _etag_in(if_match, etag):
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                      "specified did not hold", 412)  # fmt: skip
    since = _date(headers.get("if-unmodified-since"))
    if if_match is None and since is not None and modified > since:
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                      "specified did not hold", 412)  # fmt: skip
    if if_none is not None:
        return _etag_in(if_none, etag)
    since = _date(headers.get("if-modified-since"))
    return since is not None and modified <= since


def _etag_in(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags or etag.strip('"') in tags


def _date(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None  # an unreadable date is ignored, as HTTP says


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range asked for; None for the whole object (no header, or one
    this endpoint does not take: several ranges)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    try:
        if not first:
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(size - 1, int(last)) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                      {"Content-Range": f"bytes */{size}"})  # fmt: skip
    return start, end


def _write_condition(headers: Mapping[str, str]) -> Condition | None:
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_none not in (None, "*"):
        raise not_implemented("If-None-Match other than * on a write")
    return Condition(if_match, if_none) if if_match or if_none else None


def _copy_source(header: str) -> tuple[str, str, str | None]:
    path, _, query = header.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key or "\x00" in bucket + key:
        raise invalid("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
    return bucket, key, query_of(query).get("versionId")


def _copied_attributes(
    call: S3Call, source: ObjectInfo, source_name: tuple[str, str]
) -> Attributes:
    """The copy's attributes: the source's, or the request's (``REPLACE`` directives)."""
    given = attributes_of(call.headers)
    meta = call.headers.get("x-amz-metadata-directive", "COPY").upper()
    tagging = call.headers.get("x-amz-tagging-directive", "COPY").upper()
    if meta not in ("COPY", "REPLACE") or tagging not in ("COPY", "REPLACE"):
        raise invalid("A metadata or tagging directive must be COPY or REPLACE")
    if source_name == (call.bucket, call.key) and meta == "COPY" and tagging == "COPY":
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying "
                      "to copy an object to itself without changing the object's metadata.",
                      400)  # fmt: skip
    base = source.attributes
    if meta == "REPLACE":
        base = Attributes(given.content_type, given.metadata, base.tags)
    return Attributes(base.content_type, base.metadata,
                      given.tags if tagging == "REPLACE" else base.tags)  # fmt: skip


def _check_copy_source(headers: Mapping[str, str], source: ObjectInfo) -> None:
    conditions = {k[len("x-amz-copy-source-"):]: v for k, v in headers.items()
                  if k.startswith("x-amz-copy-source-if-")}  # fmt: skip
    if not conditions:
        return
    try:
        if _not_modified(conditions, source):
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                          "specified did not hold", 412)  # fmt: skip
    except S3Error as exc:
        raise S3Error("PreconditionFailed", exc.message, 412) from None


def _version(info: ObjectInfo) -> dict[str, str]:
    return {"x-amz-version-id": info.version_id} if info.version_id else {}


def _written(info: ObjectInfo) -> dict[str, str]:
    return {"ETag": f'"{info.etag}"', **_version(info)}
