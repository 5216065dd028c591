"""The object store on S3 (AWS, MinIO, or this platform's own S3 endpoint): the
:class:`~comind.stores.object_store.ObjectStore` protocol through boto3.

Streams stay streams: a ``put_stream`` that outgrows one part becomes a multipart upload
(parts of ``part_size``, the upload aborted if the stream fails, so nothing partial is
left), reads are ranged GETs of ``CHUNK`` blocks, and an opened object is read at the
version (or, unversioned, the etag) it had when opened, so a replacement meanwhile fails the
read instead of mixing two objects. A bucket's settings are S3's own: ``versioning``
(bucket versioning), ``versions`` (a lifecycle rule expiring noncurrent versions) and
``encrypted`` (default encryption, SSE-S3). Errors arrive as the file store's
(:class:`NoSuchObject`, :class:`PreconditionFailed`, ...), never as botocore's.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions

from comind.stores.object_model import (
    CHUNK,
    Attributes,
    Condition,
    Deleted,
    DeleteMarker,
    NoSuchObject,
    ObjectInfo,
    Part,
    Upload,
    Version,
    valid_bucket,
)
from comind.stores.s3_requests import (
    bucket_name,
    call,
    call_unanswered,
    conditions,
    error_code,
    fill,
    object_key,
    put_args,
    store_error,
    unanswered,
    version_arg,
)

PART_SIZE = 8 << 20  # S3's parts are at least 5 MiB but the last
LIFECYCLE_ID = "comind-noncurrent-versions"
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3ObjectStore:
    """Buckets and objects of one S3 endpoint, reached with one boto3 client."""

    def __init__(self, client: Any, *, part_size: int = PART_SIZE) -> None:
        self.client, self.part_size = client, part_size

    # --- buckets ----------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        bucket_name(bucket)
        with contextlib.suppress(botocore.exceptions.ClientError):
            if call_unanswered(lambda: self.client.head_bucket(Bucket=bucket)) is not None:
                return
        call(lambda: self.client.create_bucket(Bucket=bucket))

    def bucket_config(self, bucket: str) -> dict[str, Any] | None:
        """The bucket's settings as S3 holds them; None when it does not exist."""
        try:
            got = call_unanswered(lambda: self.client.get_bucket_versioning(Bucket=bucket))
            state = got.get("Status")
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("NoSuchBucket", "404"):
                return None
            raise store_error(exc) from None
        config: dict[str, Any] = {"versioning": state == "Enabled",
                                  "encrypted": self._encrypted(bucket)}  # fmt: skip
        versions = self._noncurrent_rule(bucket)
        if versions is not None:
            config["versions"] = versions
        return config

    def configure_bucket(self, bucket: str, config: dict[str, Any]) -> None:
        versioning = "Enabled" if config.get("versioning") else "Suspended"
        call(lambda: self.client.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": versioning}))  # fmt: skip
        if config.get("encrypted"):
            default: dict[str, Any] = {"SSEAlgorithm": "AES256"}
            sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}
            call(lambda: self.client.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration=sse))  # fmt: skip
        versions = config.get("versions")
        if versions:
            days = max(1, round(versions["keep_for"] / 86400))
            expire = {"NoncurrentDays": days,
                      "NewerNoncurrentVersions": versions.get("keep_newest", 0)}  # fmt: skip
            rule: dict[str, Any] = {"ID": LIFECYCLE_ID, "Status": "Enabled",
                                    "Filter": {"Prefix": ""},
                                    "NoncurrentVersionExpiration": expire}  # fmt: skip
            call(lambda: self.client.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}))  # fmt: skip

    def delete_bucket(self, bucket: str) -> None:
        """Delete the bucket with every object, version and upload in it."""
        if self.bucket_config(bucket) is None:
            return
        for upload in self.uploads(bucket):
            self.abort_multipart(bucket, upload.key, upload.upload_id)
        for version in builtins.list(self.versions(bucket)):
            self.delete(bucket, version.info.key, version_id=version.info.version_id)
        for info in builtins.list(self.list(bucket)):
            self.delete(bucket, info.key)
        call(lambda: self.client.delete_bucket(Bucket=bucket))

    def buckets(self) -> builtins.list[str]:
        found = call(lambda: self.client.list_buckets())["Buckets"]
        return sorted(b["Name"] for b in found if valid_bucket(b["Name"]))

    # --- writing ----------------------------------------------------------------------

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        return self.put_stream(bucket, key, [data])

    def put_stream(
        self, bucket: str, key: str, chunks: Iterable[bytes], *,
        attributes: Attributes | None = None, condition: Condition | None = None,
    ) -> ObjectInfo:  # fmt: skip
        """The object from ``chunks``: one PUT while it fits in a part, else a multipart
        upload; whole or not at all."""
        object_key(key)
        attributes = attributes or Attributes()
        blocks = iter(chunks)
        first = fill(blocks, self.part_size)
        if len(first) < self.part_size:
            args = {**put_args(attributes), **conditions(condition)}
            call(lambda: self.client.put_object(Bucket=bucket, Key=key, Body=first, **args))
        else:
            if condition is not None:  # checked before, as S3 checks it at completion
                condition.check(self._etag(bucket, key))
            upload = self.create_multipart(bucket, key, attributes=attributes)
            try:
                parts = self._parts(bucket, key, upload, first, blocks)
                self.complete_multipart(bucket, key, upload, parts)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.abort_multipart(bucket, key, upload)
                raise
        info = self.head(bucket, key)
        if info is None:
            raise NoSuchObject(f"{bucket}/{key} vanished right after it was written")
        return info

    def _parts(self, bucket: str, key: str, upload: str, first: bytes,
               rest: Iterator[bytes]) -> builtins.list[Part]:  # fmt: skip
        parts: builtins.list[Part] = []
        block = first
        while block:
            parts.append(self.upload_part(bucket, key, upload, len(parts) + 1, [block]))
            block = fill(rest, self.part_size)
        return parts

    def set_tags(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> ObjectInfo:
        tagging = {"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
        call(lambda: self.client.put_object_tagging(
            Bucket=bucket, Key=key, Tagging=tagging, **version_arg(version_id)))  # fmt: skip
        info = self.head(bucket, key, version_id=version_id)
        if info is None:
            raise NoSuchObject(f"no object {bucket}/{key}")
        return info

    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> Deleted:
        done = call(lambda: self.client.delete_object(Bucket=bucket, Key=key,
                                                       **version_arg(version_id)))  # fmt: skip
        return Deleted(done.get("VersionId"), bool(done.get("DeleteMarker")))

    # --- reading ----------------------------------------------------------------------

    def get(self, bucket: str, key: str) -> bytes:
        return b"".join(self.get_stream(bucket, key))

    def get_stream(self, bucket: str, key: str, *, chunk: int = CHUNK) -> Iterator[bytes]:
        return self.open(bucket, key).blocks(chunk=chunk)

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> S3Object:
        info = self.head(bucket, key, version_id=version_id)
        if info is None:
            raise NoSuchObject(f"no object {bucket}/{key}")
        return S3Object(self.client, info)

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectInfo | None:
        try:
            got = call_unanswered(lambda: self.client.head_object(
                Bucket=bucket, Key=key, **version_arg(version_id)))  # fmt: skip
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            if error_code(exc) == "405":
                raise DeleteMarker(f"version {version_id} of {bucket}/{key} is a delete "
                                   "marker") from None  # fmt: skip
            raise store_error(exc) from None
        tags = self._tags(bucket, key, version_id)
        return ObjectInfo(
            bucket, key, int(got["ContentLength"]), got["ETag"].strip('"'), got["LastModified"],
            Attributes(got.get("ContentType") or "application/octet-stream",
                       dict(got.get("Metadata") or {}), tags),
            got.get("VersionId") if got.get("VersionId") not in (None, "null") else None,
        )  # fmt: skip

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        for page in self._pages("list_objects_v2", Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(bucket, item["Key"], int(item["Size"]),
                                 item["ETag"].strip('"'), item["LastModified"])  # fmt: skip

    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        for info in self.list(bucket, prefix):
            yield info.key, info.modified

    def versions(self, bucket: str, prefix: str = "") -> Iterator[Version]:
        for page in self._pages("list_object_versions", Bucket=bucket, Prefix=prefix):
            entries = [(v, False) for v in page.get("Versions", [])]
            entries += [(m, True) for m in page.get("DeleteMarkers", [])]
            entries.sort(key=lambda e: (e[0]["Key"], -e[0]["LastModified"].timestamp()))
            for item, marker in entries:
                info = ObjectInfo(bucket, item["Key"], int(item.get("Size", 0)),
                                  item.get("ETag", "").strip('"'), item["LastModified"],
                                  version_id=item["VersionId"], delete_marker=marker)  # fmt: skip
                yield Version(info, bool(item["IsLatest"]))

    # --- multipart --------------------------------------------------------------------

    def create_multipart(
        self, bucket: str, key: str, *, attributes: Attributes | None = None
    ) -> str:
        object_key(key)
        args = put_args(attributes or Attributes())
        made = call(lambda: self.client.create_multipart_upload(Bucket=bucket, Key=key, **args))
        return str(made["UploadId"])

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes]
    ) -> Part:
        body = b"".join(chunks)
        done = call(lambda: self.client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body))  # fmt: skip
        return Part(number, done["ETag"].strip('"'), len(body))

    def parts(self, bucket: str, key: str, upload_id: str) -> builtins.list[Part]:
        pages = self._pages("list_parts", Bucket=bucket, Key=key, UploadId=upload_id)
        return [Part(p["PartNumber"], p["ETag"].strip('"'), int(p["Size"]), p["LastModified"])
                for page in pages for p in page.get("Parts", [])]  # fmt: skip

    def uploads(self, bucket: str, prefix: str = "") -> Iterator[Upload]:
        for page in self._pages("list_multipart_uploads", Bucket=bucket, Prefix=prefix):
            for u in page.get("Uploads", []):
                yield Upload(u["UploadId"], bucket, u["Key"], u["Initiated"], Attributes())

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[Part]
    ) -> ObjectInfo:
        named = {"Parts": [{"PartNumber": p.number, "ETag": f'"{p.etag}"'} for p in parts]}
        call(lambda: self.client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload=named))  # fmt: skip
        info = self.head(bucket, key)
        if info is None:
            raise NoSuchObject(f"{bucket}/{key} vanished right after it was completed")
        return info

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        call(lambda: self.client.abort_multipart_upload(Bucket=bucket, Key=key,
                                                         UploadId=upload_id))  # fmt: skip

    # --- helpers ----------------------------------------------------------------------

    def _pages(self, operation: str, **args: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.get_paginator(operation).paginate(**args)
        except botocore.exceptions.ClientError as exc:
            raise store_error(exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise unanswered(exc) from None

    def _etag(self, bucket: str, key: str) -> str | None:
        info = self.head(bucket, key)
        return info.etag if info else None

    def _tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        got = call(lambda: self.client.get_object_tagging(Bucket=bucket, Key=key,
                                                           **version_arg(version_id)))  # fmt: skip
        return {t["Key"]: t["Value"] for t in got.get("TagSet", [])}

    def _encrypted(self, bucket: str) -> bool:
        try:
            self.client.get_bucket_encryption(Bucket=bucket)
        except botocore.exceptions.ClientError:
            return False  # no default encryption configured
        return True

    def _noncurrent_rule(self, bucket: str) -> dict[str, int] | None:
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except botocore.exceptions.ClientError:
            return None  # no lifecycle configured
        for rule in rules:
            if rule.get("ID") == LIFECYCLE_ID:
                expire = rule["NoncurrentVersionExpiration"]
                return {"keep_for": int(expire["NoncurrentDays"]) * 86400,
                        "keep_newest": int(expire.get("NewerNoncurrentVersions", 0))}  # fmt: skip
        return None


@dataclass
class S3Object:
    """An object opened for reading: ranged GETs of the version (or etag) it had when
    opened."""

    client: Any
    info: ObjectInfo

    def blocks(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        last = self.info.size - 1 if end is None else min(end, self.info.size - 1)
        pinned = ({"VersionId": self.info.version_id} if self.info.version_id
                  else {"IfMatch": f'"{self.info.etag}"'})  # fmt: skip
        at = start
        while at <= last:
            upto = min(at + chunk, last + 1) - 1
            yield self._range(at, upto, pinned)
            at = upto + 1

    def close(self) -> None:
        return None  # each block is a request of its own: nothing stays open

    def _range(self, first: int, last: int, pinned: dict[str, str]) -> bytes:
        where = {"Bucket": self.info.bucket, "Key": self.info.key, **pinned}
        got = call(lambda: self.client.get_object(Range=f"bytes={first}-{last}", **where))
        body = got["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()
