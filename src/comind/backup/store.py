"""The backup store: the bucket every backup, WAL segment and restore point lives in, and the
one way the backup service writes to it. Backups are write-once: a file is created only
where none exists (checked by the object store at the moment it puts the file in place, so
two writers cannot both win), never overwritten. Deleting is retention's alone
(backup/retention.py), and only what its policy names. No app can reach the bucket: its
name is reserved in the spec, and the S3 endpoint serves an app only its own buckets."""

from __future__ import annotations

from collections.abc import Iterable

from comind.backup.errors import BackupError
from comind.spec.names import BACKUP_BUCKET
from comind.stores.object_model import Condition, PreconditionFailed
from comind.stores.objects import ObjectInfo, ObjectStore

BUCKET = BACKUP_BUCKET  # reserved in the spec: no app may declare it
NEW_ONLY = Condition(if_none_match="*")


class AlreadyStored(BackupError):
    """The key exists in the backup store, which never overwrites."""


def write_once(store: ObjectStore, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
    """Store ``chunks`` as ``key``, which must not exist yet (AlreadyStored otherwise)."""
    try:
        return store.put_stream(BUCKET, key, chunks, condition=NEW_ONLY)
    except PreconditionFailed:
        raise AlreadyStored(f"{key} is in the backup store already: backups are never "
                            "overwritten") from None  # fmt: skip
