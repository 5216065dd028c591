"""Which S3 operation a request is: the method, bucket or object, and the sub-resources its
query string names.

S3 chooses the operation by sub-resource (``?tagging``, ``?uploadId=``, ``?versionId=``...),
so an endpoint that ignored the query string would run ``PutObjectTagging`` as a
``PutObject`` and overwrite the object with the XML. Here every query parameter must be one
this endpoint knows: a sub-resource it serves (``SUB_RESOURCES``) or a plain parameter of an
operation it serves (``PARAMETERS``); anything else (``?acl``, ``?legal-hold``,
``?retention``, ``?torrent``, ``?select``, ``?restore``, a parameter S3 adds tomorrow) answers
``NotImplemented`` before the object is touched, and so does a combination of method and
sub-resources that is no operation served here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from comind.api.s3_body import Body
from comind.api.s3_errors import not_implemented

SUB_RESOURCES = frozenset(
    {"tagging", "uploads", "uploadId", "partNumber", "versionId", "versions", "delete",
     "location", "versioning"}
)  # fmt: skip
PARAMETERS = frozenset(
    {"list-type", "prefix", "delimiter", "max-keys", "marker", "continuation-token",
     "start-after", "encoding-type", "fetch-owner", "key-marker", "version-id-marker",
     "upload-id-marker", "max-uploads", "max-parts", "part-number-marker", "x-id",
     "response-content-type", "response-content-disposition", "response-content-encoding",
     "response-content-language", "response-cache-control", "response-expires"}
)  # fmt: skip

# bucket -> the key prefixes a principal may touch there ("": the whole bucket): an app's own
# buckets whole, a flow's key only the prefixes its source and sinks name
Reach = Mapping[str, tuple[str, ...]]
LISTINGS = frozenset({"ListObjects", "ListObjectVersions", "ListMultipartUploads"})


_OBJECT: dict[tuple[str, frozenset[str]], str] = {
    ("GET", frozenset()): "GetObject",
    ("GET", frozenset({"versionId"})): "GetObject",
    ("HEAD", frozenset()): "HeadObject",
    ("HEAD", frozenset({"versionId"})): "HeadObject",
    ("PUT", frozenset()): "PutObject",  # or CopyObject, by its x-amz-copy-source header
    ("DELETE", frozenset()): "DeleteObject",
    ("DELETE", frozenset({"versionId"})): "DeleteObject",
    ("GET", frozenset({"tagging"})): "GetObjectTagging",
    ("GET", frozenset({"tagging", "versionId"})): "GetObjectTagging",
    ("PUT", frozenset({"tagging"})): "PutObjectTagging",
    ("PUT", frozenset({"tagging", "versionId"})): "PutObjectTagging",
    ("DELETE", frozenset({"tagging"})): "DeleteObjectTagging",
    ("DELETE", frozenset({"tagging", "versionId"})): "DeleteObjectTagging",
    ("POST", frozenset({"uploads"})): "CreateMultipartUpload",
    ("PUT", frozenset({"partNumber", "uploadId"})): "UploadPart",
    ("POST", frozenset({"uploadId"})): "CompleteMultipartUpload",
    ("DELETE", frozenset({"uploadId"})): "AbortMultipartUpload",
    ("GET", frozenset({"uploadId"})): "ListParts",
}
_BUCKET: dict[tuple[str, frozenset[str]], str] = {
    ("GET", frozenset()): "ListObjects",
    ("HEAD", frozenset()): "HeadBucket",
    ("GET", frozenset({"location"})): "GetBucketLocation",
    ("GET", frozenset({"versioning"})): "GetBucketVersioning",
    ("GET", frozenset({"versions"})): "ListObjectVersions",
    ("GET", frozenset({"uploads"})): "ListMultipartUploads",
    ("POST", frozenset({"delete"})): "DeleteObjects",
}


@dataclass(frozen=True)
class S3Call:
    """One authenticated request to a bucket the app owns, and its operation."""

    operation: str
    method: str
    headers: Mapping[str, str]  # lower-case names
    app: str
    bucket: str
    key: str
    query: Mapping[str, str]
    body: Body

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)


def query_of(raw: str) -> dict[str, str]:
    """The query string's parameters (first value of each)."""
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def operation(method: str, key: str, query: Mapping[str, str]) -> str:
    """The S3 operation of a request, or ``NotImplemented`` (501) for anything else."""
    unknown = sorted(set(query) - SUB_RESOURCES - PARAMETERS)
    if unknown:
        raise not_implemented(f"The sub-resource or parameter {unknown[0]!r}")
    named = frozenset(set(query) & SUB_RESOURCES)
    table = _OBJECT if key else _BUCKET
    found = table.get((method, named))
    if found is None:
        what = "+".join(sorted(named)) or "no sub-resource"
        raise not_implemented(f"{method} on {'an object' if key else 'a bucket'} with {what}")
    return found


def within(reach: Reach, bucket: str, key: str) -> bool:
    return any(key.startswith(prefix) for prefix in reach.get(bucket, ()))


def reached(reach: Reach, call: S3Call) -> bool:
    """Whether ``call`` stays within ``reach``: its key, or a listing's prefix (other bucket
    calls read the bucket's own settings; DeleteObjects checks each key it names)."""
    if call.key:
        return within(reach, call.bucket, call.key)
    return call.operation not in LISTINGS or within(reach, call.bucket, call.arg("prefix"))
