"""S3's errors: its codes and statuses, in its XML shape, and the store's errors mapped to
them."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from starlette.responses import Response

from comind.stores.object_crypto import TamperedObject
from comind.stores.object_model import (
    DeleteMarker,
    InvalidPart,
    NoSuchObject,
    NoSuchUpload,
    NoSuchVersion,
    ObjectStoreError,
    PreconditionFailed,
)


class S3Error(Exception):
    def __init__(
        self, code: str, message: str, status: int, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.headers = headers or {}


def no_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", f"The specified bucket does not exist: {bucket}", 404)


def beyond_reach(bucket: str, key: str) -> S3Error:
    return S3Error("AccessDenied", f"Access Denied: {bucket}/{key} is outside the prefixes this "
                   "key may reach", 403)  # fmt: skip


def no_key() -> S3Error:
    return S3Error("NoSuchKey", "The specified key does not exist.", 404)


def not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented", f"{what} is not implemented by this endpoint", 501)


def invalid(message: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400)


def from_store(exc: ObjectStoreError) -> S3Error:
    """The S3 error a store error answers as."""
    if isinstance(exc, NoSuchObject):
        return no_key()
    if isinstance(exc, NoSuchVersion):
        return S3Error("NoSuchVersion", "The specified version does not exist.", 404)
    if isinstance(exc, NoSuchUpload):
        return S3Error("NoSuchUpload", "The specified multipart upload does not exist.", 404)
    if isinstance(exc, InvalidPart):
        return S3Error("InvalidPart", str(exc), 400)
    if isinstance(exc, PreconditionFailed):
        return S3Error("PreconditionFailed", str(exc), 412)
    if isinstance(exc, DeleteMarker):
        return S3Error("MethodNotAllowed", "The specified method is not allowed against a "
                       "delete marker.", 405, {"x-amz-delete-marker": "true"})  # fmt: skip
    if isinstance(exc, TamperedObject):
        return S3Error("InternalError", str(exc), 500)
    return invalid(str(exc))


def error_response(exc: S3Error) -> Response:
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(exc.code)}</Code>'
        f"<Message>{escape(exc.message)}</Message><RequestId>{uuid.uuid4()}</RequestId></Error>"
    )
    return Response(text, exc.status, headers=exc.headers, media_type="application/xml")
