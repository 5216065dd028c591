"""Disaster recovery on the platform's machine: the backup keys (rotated, exported under a
passphrase with the platform's other secrets) and a platform rebuilt from a copy of its
backup store into an empty state directory (see :mod:`comind.backup.dr`).

These work on the state directory's files and need no running platform.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from comind.backup.dr import Rebuilt, rebuild
from comind.backup.keys import KeyRing
from comind.embedded.home import StateDir
from comind.embedded.settings import Settings

__all__ = ["Rebuilt", "export_keys", "rebuild_platform", "rotate_backup_key"]


def rotate_backup_key(home: StateDir) -> str:
    """A new backup key for new backups; older keys are kept for older backups."""
    key_id, _ = KeyRing(home.secrets).rotate()
    return key_id


def export_keys(home: StateDir, passphrase: str, out: Path) -> None:
    """Every secret of the platform, sealed under ``passphrase``, written to ``out`` (0600)."""
    data = KeyRing(home.secrets).export(passphrase)
    out.write_bytes(data)
    out.chmod(0o600)


def rebuild_platform(
    source: Path, home: StateDir, settings: Settings, exported: bytes, passphrase: str,
    step: Callable[[str], None],
) -> Rebuilt:  # fmt: skip
    """The platform whose backups are in ``source`` rebuilt into the empty ``home``."""
    return rebuild(source, home, settings, exported, passphrase, step)
