"""The platform's object store: the file store of the state directory, given the keyring so
that ``encrypted: true`` buckets are encrypted at rest (the store cannot import it), or with
``COMIND_OBJECT_STORE=s3[:PREFIX]`` every bucket on S3 (``encrypted: true`` is then the
bucket's default encryption, versions expire by a lifecycle rule); and the backup store, the
same but for the backup bucket, which ``COMIND_BACKUP_STORE`` may put under a prefix of an
S3 bucket. Both choices are kept like an engine URL once the platform started on them, so a
later start without the variable cannot quietly switch to an empty store."""

from __future__ import annotations

from comind.backup.store import BUCKET
from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.governance.keyring import Keyring
from comind.stores.object_store import ObjectStore
from comind.stores.objects import FileObjectStore
from comind.stores.routed_objects import Route, RoutedStore
from comind.stores.s3_sources import s3_bucket, s3_buckets

BACKUP_STORE = "backup-store"  # its URL is kept as secrets/backup-store-url
OBJECT_STORE = "object-store"  # the choice is kept as secrets/object-store-url
FILE = "file"  # the state directory's store


def object_choice(home: StateDir, settings: Settings) -> str:
    """Where the platform's buckets are: ``file``, or ``s3[:PREFIX]`` (given or kept)."""
    return home.engine_url(OBJECT_STORE, settings.object_store) or FILE


def object_store(home: StateDir, settings: Settings) -> ObjectStore:
    """The platform's buckets, where ``settings`` (or the choice kept) says."""
    choice = object_choice(home, settings)
    return file_store(home) if choice == FILE else s3_buckets(choice, settings.s3_endpoint)


def file_store(home: StateDir) -> FileObjectStore:
    return FileObjectStore(home.objects, Keyring(home.secrets))


def backup_store(
    home: StateDir, settings: Settings, objects: ObjectStore | None = None
) -> ObjectStore:
    """Where backups, the WAL archive and audit anchors go: the platform's store (``objects``
    when the caller has it already), or for its backup bucket the S3 prefix
    ``settings.backup_store`` (or the one kept) names."""
    objects = objects or object_store(home, settings)
    url = home.engine_url(BACKUP_STORE, settings.backup_store)
    if url is None:
        return objects
    store, bucket, prefix = s3_bucket(url, settings.s3_endpoint)
    return RoutedStore(objects, {BUCKET: Route(store, bucket, prefix)})


def keep_choices(home: StateDir, settings: Settings) -> None:
    """Keep the stores ``settings`` chose, for every later command on ``home``."""
    if settings.backup_store:
        home.keep_engine_url(BACKUP_STORE, settings.backup_store)
    if settings.object_store:
        home.keep_engine_url(OBJECT_STORE, settings.object_store)
