"""The platform's object store: the file store of the state directory, given the keyring so
that ``encrypted: true`` buckets are encrypted at rest (the store cannot import it); and the
backup store, the same but for the backup bucket, which ``COMIND_BACKUP_STORE`` may put
under a prefix of an S3 bucket (kept like an engine URL once the platform started on it)."""

from __future__ import annotations

from comind.backup.store import BUCKET
from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.governance.keyring import Keyring
from comind.stores.object_store import ObjectStore
from comind.stores.objects import FileObjectStore
from comind.stores.routed_objects import Route, RoutedStore
from comind.stores.s3_sources import s3_bucket

BACKUP_STORE = "backup-store"  # its URL is kept as secrets/backup-store-url


def object_store(home: StateDir) -> FileObjectStore:
    return FileObjectStore(home.objects, Keyring(home.secrets))


def backup_store(home: StateDir, settings: Settings) -> ObjectStore:
    """Where backups, the WAL archive and audit anchors go: the state directory's store, or
    for its backup bucket the S3 prefix ``settings.backup_store`` (or the one kept) names."""
    files = object_store(home)
    url = home.engine_url(BACKUP_STORE, settings.backup_store)
    if url is None:
        return files
    store, bucket, prefix = s3_bucket(url, settings.s3_endpoint)
    return RoutedStore(files, {BUCKET: Route(store, bucket, prefix)})
