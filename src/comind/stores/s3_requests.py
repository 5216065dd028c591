"""How an object-store call becomes an S3 request, and an S3 answer the store's error: the
arguments (attributes, conditions, versions), the names S3 takes, and the error mapping
(:class:`NoSuchObject`, :class:`PreconditionFailed`, ...; a message from S3, never the
request, which holds the signature)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import botocore.exceptions

from comind.stores.object_model import (
    Attributes,
    Condition,
    InvalidPart,
    NoSuchObject,
    NoSuchUpload,
    NoSuchVersion,
    ObjectStoreError,
    PreconditionFailed,
    valid_bucket,
)

T = TypeVar("T")


def fill(blocks: Iterator[bytes], size: int) -> bytes:
    """Up to ``size`` bytes from ``blocks`` (fewer only at the end), at most one block over."""
    buffer = bytearray()
    for block in blocks:
        buffer += block
        if len(buffer) >= size:
            break
    return bytes(buffer)


def put_args(attributes: Attributes) -> dict[str, Any]:
    args: dict[str, Any] = {"ContentType": attributes.content_type,
                            "Metadata": dict(attributes.metadata)}  # fmt: skip
    if attributes.tags:
        args["Tagging"] = "&".join(f"{k}={v}" for k, v in sorted(attributes.tags.items()))
    return args


def conditions(condition: Condition | None) -> dict[str, str]:
    if condition is None:
        return {}
    out = {"IfNoneMatch": condition.if_none_match} if condition.if_none_match else {}
    return out | ({"IfMatch": f'"{condition.if_match.strip(chr(34))}"'}
                  if condition.if_match else {})  # fmt: skip


def version_arg(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def bucket_name(bucket: str) -> None:
    if not valid_bucket(bucket):
        raise ObjectStoreError(
            f"bad bucket name {bucket!r}: use 3-63 lowercase letters, digits, dots, dashes"
        )


def object_key(key: str) -> None:
    if not key or len(key.encode()) > 1024:
        raise ObjectStoreError(f"bad object key {key!r}")


def call(request: Callable[[], T]) -> T:
    try:
        return request()
    except botocore.exceptions.ClientError as exc:
        raise store_error(exc) from None
    except botocore.exceptions.BotoCoreError as exc:  # no answer: unreachable, no credentials
        raise unanswered(exc) from None


def call_unanswered(request: Callable[[], T]) -> T:
    """``request``, S3's own answers (ClientError) left to the caller to read."""
    try:
        return request()
    except botocore.exceptions.BotoCoreError as exc:
        raise unanswered(exc) from None


def unanswered(exc: botocore.exceptions.BotoCoreError) -> ObjectStoreError:
    """The store's error for a request S3 never answered (botocore's words name the
    endpoint, never a key)."""
    return ObjectStoreError(f"S3: {exc}")


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def store_error(exc: botocore.exceptions.ClientError) -> ObjectStoreError:
    """The file store's error for what S3 answered (its message, never the request)."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")) or code
    kinds: dict[str, type[ObjectStoreError]] = {
        "NoSuchKey": NoSuchObject, "404": NoSuchObject, "NoSuchVersion": NoSuchVersion,
        "NoSuchUpload": NoSuchUpload, "InvalidPart": InvalidPart,
        "InvalidPartOrder": InvalidPart, "PreconditionFailed": PreconditionFailed,
        "412": PreconditionFailed,
    }  # fmt: skip
    return kinds.get(code, ObjectStoreError)(f"S3 {code}: {message}")
