"""S3's bucket operations: ListBuckets, HeadBucket, GetBucketLocation, GetBucketVersioning
(as the spec declares it), ListObjects/ListObjectsV2 (prefix, delimiter, pagination,
``encoding-type=url``), ListObjectVersions and DeleteObjects."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from starlette.responses import Response

from comind.api.s3_errors import S3Error, beyond_reach, from_store, invalid
from comind.api.s3_routes import Reach, S3Call, within
from comind.api.s3_xml import el, encoded, iso, parse_delete, xml
from comind.stores.object_model import NULL_VERSION, ObjectInfo, ObjectStoreError, Version
from comind.stores.objects import ObjectStore

MAX_KEYS = 1000
DELETE_BODY = 2 << 20  # 1,000 keys of up to 1,024 bytes each
T = TypeVar("T")


class BucketCalls:
    def __init__(self, store: ObjectStore, owned: Callable[[str], Reach]) -> None:
        self.store, self.owned = store, owned

    def list_buckets(self, app: str) -> Response:
        entries = "".join(f"<Bucket>{el('Name', b)}{el('CreationDate', iso(None))}</Bucket>"
                          for b in sorted(self.owned(app)))  # fmt: skip
        owner = f"<Owner>{el('ID', app)}{el('DisplayName', app)}</Owner>"
        return xml("ListAllMyBucketsResult", f"{owner}<Buckets>{entries}</Buckets>")

    def head(self, call: S3Call) -> Response:
        return Response(status_code=200)

    def location(self, call: S3Call) -> Response:
        return xml("LocationConstraint", "")

    def versioning(self, call: S3Call) -> Response:
        declared = (self.store.bucket_config(call.bucket) or {}).get("versioning")
        return xml("VersioningConfiguration", el("Status", "Enabled") if declared else "")

    def list_objects(self, call: S3Call) -> Response:
        v2, url = call.arg("list-type") == "2", call.arg("encoding-type") == "url"
        prefix, delimiter, limit = call.arg("prefix"), call.arg("delimiter"), _max_keys(call)
        after = _token_key(call.arg("continuation-token")) if v2 else call.arg("marker")
        after = max(after, call.arg("start-after")) if v2 else after
        listing = (o for o in self.store.list(call.bucket, prefix) if o.key > after)
        objects, prefixes, truncated = _page(listing, lambda o: o.key, (prefix, delimiter, after),
                                             limit)  # fmt: skip
        parts = [el("Name", call.bucket), el("Prefix", encoded(prefix, url)), el("MaxKeys", limit),
                 el("IsTruncated", str(truncated).lower())]  # fmt: skip
        if delimiter:
            parts.append(el("Delimiter", encoded(delimiter, url)))
        if url:
            parts.append(el("EncodingType", "url"))
        parts += [_contents(o, url) for o in objects]
        parts += [f"<CommonPrefixes>{el('Prefix', encoded(p, url))}</CommonPrefixes>"
                  for p in prefixes]  # fmt: skip
        last = max([o.key for o in objects] + prefixes, default="")
        if v2:
            parts.append(el("KeyCount", len(objects) + len(prefixes)))
            if truncated:
                parts.append(el("NextContinuationToken", _token(last)))
        elif truncated:
            parts.append(el("NextMarker", encoded(last, url)))
        return xml("ListBucketResult", "".join(parts))

    def list_versions(self, call: S3Call) -> Response:
        prefix, url, limit = call.arg("prefix"), call.arg("encoding-type") == "url", _max_keys(call)
        if call.arg("delimiter"):
            raise S3Error("NotImplemented", "ListObjectVersions with a delimiter is not "
                          "implemented by this endpoint", 501)  # fmt: skip
        marker = (call.arg("key-marker"), call.arg("version-id-marker"))
        listing = _after_marker(self.store.versions(call.bucket, prefix), marker)
        shown, _, truncated = _page(listing, lambda v: v.info.key, (prefix, "", ""), limit)
        parts = [el("Name", call.bucket), el("Prefix", encoded(prefix, url)),
                 el("KeyMarker", encoded(marker[0], url)), el("VersionIdMarker", marker[1]),
                 el("MaxKeys", limit), el("IsTruncated", str(truncated).lower())]  # fmt: skip
        if url:
            parts.append(el("EncodingType", "url"))
        if truncated:
            last = shown[-1].info
            parts += [el("NextKeyMarker", encoded(last.key, url)),
                      el("NextVersionIdMarker", last.version_id or NULL_VERSION)]  # fmt: skip
        parts += [_version_entry(v, url) for v in shown]
        return xml("ListVersionsResult", "".join(parts))

    def delete_objects(self, call: S3Call) -> Response:
        quiet, objects = parse_delete(call.body.read(DELETE_BODY))
        results, reach = [], self.owned(call.app)
        for key, version in objects:
            if not within(reach, call.bucket, key):
                results.append(_refused(key, beyond_reach(call.bucket, key)))
                continue
            try:
                done = self.store.delete(call.bucket, key, version_id=version)
            except ObjectStoreError as exc:
                results.append(_refused(key, from_store(exc)))
                continue
            if not quiet:
                results.append(_deleted(key, version, done.version_id, done.delete_marker))
        return xml("DeleteResult", "".join(results))


def _refused(key: str, error: S3Error) -> str:
    return f"<Error>{el('Key', key)}{el('Code', error.code)}{el('Message', error.message)}</Error>"


def _deleted(key: str, asked: str | None, version: str | None, marker: bool) -> str:
    inner = el("Key", key) + (el("VersionId", asked) if asked else "")
    if marker:
        inner += el("DeleteMarker", "true")
        inner += el("DeleteMarkerVersionId", version) if version else ""
    return f"<Deleted>{inner}</Deleted>"


def _page(
    listing: Iterable[T], key_of: Callable[[T], str], where: tuple[str, str, str], limit: int
) -> tuple[list[T], list[str], bool]:
    """Up to ``limit`` entries and common prefixes (keys under ``prefix`` rolled up at
    ``delimiter``; none up to ``after``, where the previous page ended), and whether more
    follow."""
    prefix, delimiter, after = where
    found: list[T] = []
    prefixes: list[str] = []
    for entry in listing:
        rest = key_of(entry)[len(prefix) :]
        rolled = bool(delimiter) and delimiter in rest
        common = prefix + rest.split(delimiter, 1)[0] + delimiter if rolled else ""
        if rolled and (common <= after or (prefixes and prefixes[-1] == common)):
            continue
        if len(found) + len(prefixes) == limit:
            return found, prefixes, True
        if rolled:
            prefixes.append(common)
        else:
            found.append(entry)
    return found, prefixes, False


def _after_marker(versions: Iterator[Version], marker: tuple[str, str]) -> Iterator[Version]:
    key, version = marker
    passed = not version
    for entry in versions:
        if entry.info.key < key or (entry.info.key == key and not version):
            continue
        if entry.info.key == key and not passed:
            passed = (entry.info.version_id or NULL_VERSION) == version
            continue
        yield entry


def _contents(o: ObjectInfo, url: bool) -> str:
    return (f"<Contents>{el('Key', encoded(o.key, url))}{el('LastModified', iso(o.modified))}"
            f"{el('ETag', chr(34) + o.etag + chr(34))}{el('Size', o.size)}"
            "<StorageClass>STANDARD</StorageClass></Contents>")  # fmt: skip


def _version_entry(version: Version, url: bool) -> str:
    o = version.info
    common = (el("Key", encoded(o.key, url)) + el("VersionId", o.version_id or NULL_VERSION)
              + el("IsLatest", str(version.latest).lower())
              + el("LastModified", iso(o.modified)))  # fmt: skip
    if o.delete_marker:
        return f"<DeleteMarker>{common}</DeleteMarker>"
    return (f"<Version>{common}{el('ETag', chr(34) + o.etag + chr(34))}{el('Size', o.size)}"
            "<StorageClass>STANDARD</StorageClass></Version>")  # fmt: skip


def _max_keys(call: S3Call) -> int:
    value = call.arg("max-keys", str(MAX_KEYS)) or str(MAX_KEYS)
    if not value.isdigit():
        raise invalid("max-keys must be a non-negative integer")
    return min(int(value), MAX_KEYS)


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _token_key(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode() if token else ""
    except ValueError:
        raise invalid("The continuation token provided is incorrect") from None
