"""S3's multipart upload: create, upload part (streamed), complete, abort, list parts, and
list a bucket's uploads in progress (what ``aws s3 cp`` of a big file runs)."""

from __future__ import annotations

from starlette.responses import Response

from comind.api.s3_errors import invalid, not_implemented
from comind.api.s3_objects import attributes_of
from comind.api.s3_routes import S3Call
from comind.api.s3_xml import el, iso, parse_parts, xml
from comind.stores.object_model import MAX_PARTS, Part
from comind.stores.objects import ObjectStore

COMPLETE_BODY = 2 << 20  # 10,000 parts with their checksums fit
MAX_LISTED = 1000


class MultipartCalls:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def create(self, call: S3Call) -> Response:
        upload_id = self.store.create_multipart(call.bucket, call.key,
                                                attributes=attributes_of(call.headers))  # fmt: skip
        inner = el("Bucket", call.bucket) + el("Key", call.key) + el("UploadId", upload_id)
        return xml("InitiateMultipartUploadResult", inner)

    def upload_part(self, call: S3Call) -> Response:
        number = _number(call.arg("partNumber"), "partNumber")
        if not 1 <= number <= MAX_PARTS:
            raise invalid(f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive")
        if call.headers.get("x-amz-copy-source"):
            raise not_implemented("UploadPartCopy")
        part = self.store.upload_part(call.bucket, call.key, call.arg("uploadId"), number,
                                      call.body.blocks())  # fmt: skip
        return Response(status_code=200, headers={"ETag": f'"{part.etag}"'})

    def complete(self, call: S3Call) -> Response:
        named = parse_parts(call.body.read(COMPLETE_BODY))
        parts = [Part(number, etag, -1) for number, etag in named]  # S3 names no sizes
        info = self.store.complete_multipart(call.bucket, call.key, call.arg("uploadId"), parts)
        inner = (el("Location", f"/{call.bucket}/{call.key}") + el("Bucket", call.bucket)
                 + el("Key", call.key) + el("ETag", f'"{info.etag}"'))  # fmt: skip
        headers = {"x-amz-version-id": info.version_id} if info.version_id else {}
        return xml("CompleteMultipartUploadResult", inner, headers)

    def abort(self, call: S3Call) -> Response:
        self.store.abort_multipart(call.bucket, call.key, call.arg("uploadId"))
        return Response(status_code=204)

    def list_parts(self, call: S3Call) -> Response:
        after = _number(call.arg("part-number-marker", "0"), "part-number-marker")
        limit = min(_number(call.arg("max-parts", str(MAX_LISTED)), "max-parts"), MAX_LISTED)
        parts = [p for p in self.store.parts(call.bucket, call.key, call.arg("uploadId"))
                 if p.number > after]  # fmt: skip
        shown, truncated = parts[:limit], len(parts) > limit
        inner = [el("Bucket", call.bucket), el("Key", call.key),
                 el("UploadId", call.arg("uploadId")), el("PartNumberMarker", after),
                 el("MaxParts", limit),
                 el("IsTruncated", str(truncated).lower())]  # fmt: skip
        if truncated:
            inner.append(el("NextPartNumberMarker", shown[-1].number))
        inner += [f"<Part>{el('PartNumber', p.number)}{el('LastModified', iso(p.modified))}"
                  f"{el('ETag', chr(34) + p.etag + chr(34))}{el('Size', p.size)}</Part>"
                  for p in shown]  # fmt: skip
        return xml("ListPartsResult", "".join(inner))

    def list_uploads(self, call: S3Call) -> Response:
        prefix = call.arg("prefix")
        uploads = list(self.store.uploads(call.bucket, prefix))[:MAX_LISTED]
        inner = [el("Bucket", call.bucket), el("Prefix", prefix), el("MaxUploads", MAX_LISTED),
                 el("IsTruncated", "false")]  # fmt: skip
        inner += [f"<Upload>{el('Key', u.key)}{el('UploadId', u.upload_id)}"
                  f"{el('Initiated', iso(u.started))}<StorageClass>STANDARD</StorageClass>"
                  "</Upload>" for u in uploads]  # fmt: skip
        return xml("ListMultipartUploadsResult", "".join(inner))


def _number(value: str, name: str) -> int:
    if not value.isdigit():
        raise invalid(f"{name} must be a non-negative integer")
    return int(value)
