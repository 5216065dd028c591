"""Whether a complete backup's files are still in the backup store, checked cheaply enough
to run on every listing: one stat per artifact (and its size against the size it was stored
at, which catches a truncated file), one listing per bucket of a bucket backup. A restore
test reads every byte; this only proves nothing went missing since."""

from __future__ import annotations

from comind.backup.base import BUCKET, stored_manifest_key
from comind.backup.buckets import blob_key, blob_prefix
from comind.backup.manifest import Manifest, ObjectsManifest, SealedManifest
from comind.stores.objects import ObjectStore


def missing_files(store: ObjectStore, manifest: Manifest) -> list[str]:
    """The files of ``manifest``'s backup that are gone or not their stored size."""
    missing = [] if store.head(BUCKET, stored_manifest_key(manifest)) else [
        stored_manifest_key(manifest)]  # fmt: skip
    if isinstance(manifest, ObjectsManifest):
        return missing + _missing_blobs(store, manifest)
    assert isinstance(manifest, SealedManifest)
    for i, key in enumerate(manifest.artifacts):
        found = store.head(BUCKET, key)
        # the first artifact is the one whose stored size the manifest records
        if found is None or (i == 0 and manifest.size_bytes and found.size != manifest.size_bytes):
            missing.append(key)
    return missing


def _missing_blobs(store: ObjectStore, manifest: ObjectsManifest) -> list[str]:
    wanted = {blob_key(b, etag) for b, names in manifest.buckets.items() for etag in names.values()}
    stored: set[str] = set()
    for bucket in manifest.buckets:
        stored |= {key for key, _ in store.names(BUCKET, blob_prefix(bucket))}
    return sorted(wanted - stored)
