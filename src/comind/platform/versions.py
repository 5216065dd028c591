"""Versioned buckets: the retention sweep of the versions an overwrite or a delete replaced
(a housekeeping task, by each bucket's ``versions:`` rule) and the listing and restore of a
key's versions behind the API."""

from __future__ import annotations

import time

from prometheus_client import Counter

from comind.api.buckets import ObjectVersion, VersionList
from comind.errors import ComindError
from comind.observe.metrics import REGISTRY
from comind.stores.object_model import ObjectInfo
from comind.stores.object_store import ObjectStore
from comind.stores.object_versions import Expiry
from comind.stores.objects import FileObjectStore

EXPIRED = Counter(
    "comind_object_versions_expired_total",
    "Replaced versions and delete markers removed by their bucket's versions: rule.",
    ["bucket"],
    registry=REGISTRY,
)
RESTORED = Counter(
    "comind_object_versions_restored_total",
    "Versions restored as their key's current version (comind bucket restore).",
    ["bucket"],
    registry=REGISTRY,
)


class BucketVersions:
    """The versions of the object store's versioned buckets."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def sweep(self, now: int | None = None) -> int:
        """Apply every versioned bucket's rule at ``now`` (Unix ns); how many entries went.
        S3 applies them itself (the lifecycle rule a bucket's ``versions`` sets there)."""
        store = self.store
        if not isinstance(store, FileObjectStore):
            return 0
        at = time.time_ns() if now is None else now
        removed = 0
        for bucket in store.buckets():
            config = store.bucket_config(bucket) or {}
            rule = config.get("versions")
            if not config.get("versioning") or not rule:
                continue  # no rule: every version is kept
            expiry = Expiry(at - int(rule["keep_for"]) * 10**9, int(rule["keep_newest"]))
            gone = store.expire_versions(bucket, expiry)
            EXPIRED.labels(bucket).inc(gone)
            removed += gone
        return removed

    def list(self, bucket: str, prefix: str, limit: int) -> VersionList:
        """Up to ``limit`` versions under ``prefix``: by key, newest first."""
        self._check(bucket)
        found: list[ObjectVersion] = []
        for version in self.store.versions(bucket, prefix):
            if len(found) == limit:
                return VersionList(bucket=bucket, versions=found, truncated=True)
            found.append(_entry(version.info, version.latest))
        return VersionList(bucket=bucket, versions=found, truncated=False)

    def restore(self, bucket: str, key: str, version_id: str) -> ObjectVersion:
        """A copy of ``version_id`` as the key's current version (the versions in between
        stay, as S3's copy of a version onto its own key keeps them)."""
        self._check(bucket)
        source = self.store.open(bucket, key, version_id=version_id)
        try:
            info = self.store.put_stream(bucket, key, source.blocks(),
                                         attributes=source.info.attributes)  # fmt: skip
        finally:
            source.close()
        RESTORED.labels(bucket).inc()
        return _entry(info, latest=True)

    def _check(self, bucket: str) -> None:
        if not (self.store.bucket_config(bucket) or {}).get("versioning"):
            raise ComindError(f"bucket {bucket} is not versioned (versioning: true keeps "
                              "the versions a write replaces)")  # fmt: skip


def _entry(info: ObjectInfo, latest: bool) -> ObjectVersion:
    return ObjectVersion(key=info.key, version_id=info.version_id or "null", latest=latest,
                         delete_marker=info.delete_marker, size=info.size,
                         modified=info.modified.isoformat(),
                         etag=None if info.delete_marker else info.etag)  # fmt: skip
