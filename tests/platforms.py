"""Settings of the platforms tests start in-process (integration and browser tests)."""

from __future__ import annotations

from pathlib import Path

from comind.embedded.settings import Settings


def make_settings(home: Path) -> Settings:
    """Settings for a test platform: any free ports, checks often so healing is quick; no WAL
    archiving (every test database's creation is WAL: the backup tests archive their own)."""
    return Settings(home=home, api_port=0, check_interval=0.2, start_timeout=60, wal_archive=False)
