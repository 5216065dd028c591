"""Disaster recovery on the platform's machine: the keys (exported under a
passphrase with the platform's other secrets) and a platform rebuilt from a copy of its
backup store into an empty state directory (see :mod:`comind.backup.dr`).

These work on the state directory's files and need no running platform.
"""

from __future__ import annotations

from pathlib import Path

from comind.backup import dr
from comind.backup.dr import Rebuilt, Step
from comind.backup.keys import KeyRing
from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.governance.keyring import Keyring
from comind.platform.objects import FILE, backup_store, object_choice
from comind.stores.s3_sources import s3_source

__all__ = ["Rebuilt", "export_keys", "rebuild"]


def export_keys(home: StateDir, passphrase: str, out: Path) -> None:
    """Every secret of the platform, sealed under ``passphrase``, written to ``out`` (0600)."""
    data = KeyRing(home.secrets).export(passphrase)
    out.write_bytes(data)
    out.chmod(0o600)


def rebuild(
    source: str, home: StateDir, settings: Settings, exported: bytes, passphrase: str,
    step: Step = lambda s: None,
) -> Rebuilt:  # fmt: skip
    """:func:`comind.backup.dr.rebuild` from ``source`` (a directory, or ``s3://BUCKET/PREFIX``
    on ``settings.s3_endpoint``) with the backup keys in the rebuilt keyring."""
    copy = s3_source(source, settings.s3_endpoint) if source.startswith("s3://") else Path(source)
    on_s3 = settings.backup_store or object_choice(home, settings) != FILE
    store = backup_store(home, settings) if on_s3 else None  # else the new state directory's
    return dr.rebuild(copy, home, settings, exported, passphrase, step, envelope=Keyring,
                      store=store)  # fmt: skip
