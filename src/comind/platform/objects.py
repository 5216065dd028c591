"""The platform's object store: the file store of the state directory, given the keyring so
that ``encrypted: true`` buckets are encrypted at rest (the store cannot import it)."""

from __future__ import annotations

from comind.embedded.home import StateDir
from comind.governance.keyring import Keyring
from comind.stores.objects import FileObjectStore


def object_store(home: StateDir) -> FileObjectStore:
    return FileObjectStore(home.objects, Keyring(home.secrets))
