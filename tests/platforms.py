"""Settings of the platforms tests start in-process (integration and browser tests)."""

from __future__ import annotations

from pathlib import Path

from comind.embedded.settings import Settings


def make_settings(home: Path, *, check_interval: float = 1.0) -> Settings:
    """Settings for a test platform: any free ports; no WAL archiving (every test database's
    creation is WAL: the backup tests archive their own). Its engines are checked each
    second, as by default: each check is a login, and a session-long platform checked five
    times a second made a third of the suite's PostgreSQL sessions; the supervision tests,
    which kill engines, check more often (``check_interval``) so healing is quick."""
    return Settings(home=home, api_port=0, check_interval=check_interval, start_timeout=60,
                    wal_archive=False)  # fmt: skip
