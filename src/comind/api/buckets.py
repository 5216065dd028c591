"""A versioned bucket's versions over the API: ``GET /api/v1/buckets/{bucket}/versions``
(``?prefix=&limit=``: by key, newest first) and ``POST /api/v1/buckets/{bucket}/restore``
(``{"key", "version_id"}``: a copy of that version becomes the key's current one; the
versions in between stay). Operator of the bucket's app; a restore is audited."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.openapi_schemas import Closed
from comind.stores.object_model import NoSuchObject, NoSuchVersion

MAX_VERSIONS = 10_000


class ObjectVersion(Closed):
    key: str
    version_id: str = Field(description="'null' for the version written before versioning")
    latest: bool = Field(description="the key's current version (or its delete marker)")
    delete_marker: bool
    size: int
    modified: str = Field(description="ISO 8601: when this version was written")
    etag: str | None = Field(description="null for a delete marker")


class VersionList(Closed):
    bucket: str
    versions: list[ObjectVersion]
    truncated: bool = Field(description="more versions than the limit")


class RestoreBody(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    version_id: str = Field(min_length=1, max_length=64, description="from the versions list")


class Versions(Protocol):
    def list(self, bucket: str, prefix: str, limit: int) -> VersionList: ...
    def restore(self, bucket: str, key: str, version_id: str) -> ObjectVersion: ...


class BucketsApi:
    def __init__(self, versions: Versions, owner: Callable[[str], str | None],
                 guard: Guard) -> None:  # fmt: skip
        self.versions, self.owner, self.guard = versions, owner, guard

    def routes(self) -> list[Route]:
        where = "/api/v1/buckets/{bucket}"
        return [
            self.guard.route(f"{where}/versions", self._list, role="operator", app=self._app),
            self.guard.change(
                f"{where}/restore", self._restore, "object-restore", app=self._app, target=_target
            ),
        ]

    def _app(self, named: Mapping[str, Any]) -> str | None:
        """The bucket's app, whose operators may (None, an undeclared bucket: only tokens
        for every app, which then learn it is not declared)."""
        return self.owner(str(named.get("bucket", "")))

    def _list(self, call: Call) -> dict[str, Any]:
        bucket = self._declared(call)
        prefix = call.query.get("prefix", "")
        limit = call.number("limit", 1000, 1, MAX_VERSIONS)
        return self.versions.list(bucket, prefix, limit).model_dump()

    def _restore(self, call: Call) -> Answer:
        bucket, body = self._declared(call), call.parsed(RestoreBody)
        try:
            restored = self.versions.restore(bucket, body.key, body.version_id)
        except (NoSuchObject, NoSuchVersion) as exc:
            raise Problem(str(exc), 404) from None
        return Answer(
            restored.model_dump(),
            detail={"version_id": body.version_id, "new_version_id": restored.version_id},
        )

    def _declared(self, call: Call) -> str:
        bucket = call.params["bucket"]
        if self.owner(bucket) is None:
            raise Problem(f"no bucket {bucket} in the applied spec", 404)
        return bucket


def _target(named: Mapping[str, Any]) -> str:
    return f"{named.get('bucket')}/{named.get('key') or '*'}"
