"""S3's XML: answers rendered in its namespace, request documents (tagging, completing a
multipart upload, deleting many objects) parsed without entity expansion and checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote_plus
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.responses import Response

from comind.api.s3_errors import S3Error, invalid

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_TAGS = 10  # per object, as S3
MAX_DELETE = 1000  # keys per DeleteObjects, as S3
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def xml(root: str, inner: str, headers: Mapping[str, str] | None = None) -> Response:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'
    return Response(text, 200, headers=dict(headers or {}), media_type="application/xml")


def el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def iso(when: datetime | None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def encoded(name: str, url: bool) -> str:
    """A key or prefix as a listing shows it (``encoding-type=url``: URL-encoded)."""
    return quote_plus(name, safe="/") if url else name


def parse(body: bytes) -> ElementTree.Element:
    """The document's root, namespaces dropped; a DTD or a malformed document refused."""
    if _DTD.search(body):
        raise _malformed()
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise _malformed() from None
    for node in root.iter():
        node.tag = node.tag.rpartition("}")[2]
    return root


def text(node: ElementTree.Element, name: str) -> str | None:
    found = node.find(name)
    return None if found is None else found.text or ""


def tagging_xml(tags: Mapping[str, str]) -> str:
    items = "".join(f"<Tag>{el('Key', k)}{el('Value', v)}</Tag>" for k, v in tags.items())
    return f"<TagSet>{items}</TagSet>"


def parse_tagging(body: bytes) -> dict[str, str]:
    """The tags of a ``<Tagging><TagSet><Tag>...`` document."""
    pairs = [(text(t, "Key"), text(t, "Value")) for t in parse(body).iter("Tag")]
    if any(k is None or v is None for k, v in pairs):
        raise _malformed()
    return checked_tags([(k or "", v or "") for k, v in pairs])


def tags_header(header: str | None) -> dict[str, str]:
    """The tags of an ``x-amz-tagging`` header (URL query form)."""
    return checked_tags(parse_qsl(header or "", keep_blank_values=True))


def checked_tags(pairs: list[tuple[str, str]]) -> dict[str, str]:
    tags = dict(pairs)
    if len(tags) != len(pairs):
        raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", 400)
    if len(tags) > MAX_TAGS:
        raise S3Error("BadRequest", f"Object tags cannot be greater than {MAX_TAGS}", 400)
    if any(not k or len(k) > 128 or len(v) > 256 for k, v in tags.items()):
        raise S3Error("InvalidTag", "A tag key must be 1-128 characters, a value at most 256",
                      400)  # fmt: skip
    return tags


def parse_parts(body: bytes) -> list[tuple[int, str]]:
    """(part number, etag) of each ``<Part>`` of a CompleteMultipartUpload document."""
    parts = []
    for node in parse(body).iter("Part"):
        number, etag = text(node, "PartNumber"), text(node, "ETag")
        if number is None or etag is None or not number.isdigit():
            raise _malformed()
        parts.append((int(number), etag.strip().strip('"')))
    return parts


def parse_delete(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    """Quiet, and (key, version id) of each ``<Object>`` of a DeleteObjects document."""
    root = parse(body)
    objects = [(text(o, "Key"), text(o, "VersionId")) for o in root.iter("Object")]
    if not objects or any(not key for key, _ in objects):
        raise _malformed()
    if len(objects) > MAX_DELETE:
        raise invalid(f"DeleteObjects takes at most {MAX_DELETE} keys")
    quiet = (text(root, "Quiet") or "").strip().lower() == "true"
    return quiet, [(key or "", version) for key, version in objects]


def _malformed() -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema.", 400)  # fmt: skip
