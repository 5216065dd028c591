"""Whether a complete backup's files are still in the backup store, checked cheaply enough
to run on every listing: one stat per artifact (and its size against the size it was stored
at, which catches a truncated file), one listing per bucket of a bucket backup. A restore
test reads every byte; this only proves nothing went missing since."""

from __future__ import annotations

from comind.backup.base import BUCKET, stored_manifest_key
from comind.backup.buckets import blob_key, blob_prefix
from comind.backup.manifest import Manifest, ObjectsManifest, SealedManifest
from comind.stores.objects import ObjectStore


class Presence:
    """One round of checks (a listing of the catalog): each bucket's stored blobs are listed
    once, however many bucket backups share them."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._blobs: dict[str, set[str]] = {}

    def missing(self, manifest: Manifest) -> list[str]:
        """The files of ``manifest``'s backup that are gone or not their stored size."""
        key = stored_manifest_key(manifest)
        missing = [] if self.store.head(BUCKET, key) else [key]
        if isinstance(manifest, ObjectsManifest):
            return missing + self._missing_blobs(manifest)
        assert isinstance(manifest, SealedManifest)
        for i, key in enumerate(manifest.artifacts):
            found = self.store.head(BUCKET, key)
            # the first artifact is the one whose stored size the manifest records
            resized = i == 0 and manifest.size_bytes and found and found.size != manifest.size_bytes
            if found is None or resized:
                missing.append(key)
        return missing

    def _missing_blobs(self, manifest: ObjectsManifest) -> list[str]:
        wanted = {blob_key(b, etag) for b, names in manifest.buckets.items()
                  for etag in names.values()}  # fmt: skip
        stored: set[str] = set()
        for bucket in manifest.buckets:
            if bucket not in self._blobs:
                listed = self.store.names(BUCKET, blob_prefix(bucket))
                self._blobs[bucket] = {key for key, _ in listed}
            stored |= self._blobs[bucket]
        return sorted(wanted - stored)


def missing_files(store: ObjectStore, manifest: Manifest) -> list[str]:
    """The files of ``manifest``'s backup that are gone or not their stored size."""
    return Presence(store).missing(manifest)
