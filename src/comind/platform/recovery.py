"""Disaster recovery on the platform's machine: the keys (exported under a
passphrase with the platform's other secrets) and a platform rebuilt from a copy of its
backup store into an empty state directory (see :mod:`comind.backup.dr`).

These work on the state directory's files and need no running platform.
"""

from __future__ import annotations

from pathlib import Path

from comind.backup.dr import Rebuilt, rebuild
from comind.backup.keys import KeyRing
from comind.embedded.home import StateDir

__all__ = ["Rebuilt", "export_keys", "rebuild"]


def export_keys(home: StateDir, passphrase: str, out: Path) -> None:
    """Every secret of the platform, sealed under ``passphrase``, written to ``out`` (0600)."""
    data = KeyRing(home.secrets).export(passphrase)
    out.write_bytes(data)
    out.chmod(0o600)
