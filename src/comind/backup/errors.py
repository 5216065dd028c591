"""The error of the backup domain (its own module: the engine adapters raise it too)."""

from __future__ import annotations

from comind.errors import ComindError


class BackupError(ComindError):
    """A backup failed; nothing of it is registered as complete."""
