"""The state directory (``$COMIND_HOME``): one place for engine data, secrets and state.

Layout::

    postgres/data   PostgreSQL cluster        redis/          Redis AOF + config
    objects/        object store root         logs/           JSON logs, engine logs
    secrets/        generated passwords, 0600 state.json      what the running platform reports
    comind.lock     held by the running platform

Secrets are generated once and reused, so data written under one password stays
reachable after ``down``/``up``.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from comind.errors import ComindError


class StateDir:
    """Paths and small files of one platform's state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.postgres / "data"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def restores(self) -> Path:
        """Where restores and verifications build their copies."""
        return self.root / "restores"

    @property
    def worker_metrics(self) -> Path:
        """Where flow workers write their metrics for the platform to merge."""
        return self.root / "run" / "metrics"

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    def monitoring(self, engine: str) -> Path:
        """The data and configuration of a monitoring engine (prometheus, alertmanager)."""
        return self.root / "monitoring" / engine

    @property
    def sealing_keys(self) -> Path:
        return self.secrets / "sealing"

    @property
    def lock_file(self) -> Path:
        return self.root / "comind.lock"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def create(self) -> None:
        """Make the directory tree; refuse a path that is not a usable directory."""
        if self.root.exists() and not self.root.is_dir():
            raise ComindError(f"state directory {self.root} is not a directory")
        for path in (self.root, self.postgres, self.redis, self.objects, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.secrets.mkdir(mode=0o700, exist_ok=True)

    def secret(self, name: str) -> str:
        """The secret ``name``, generated on first use and kept with mode 0600."""
        path = self.secrets / name
        if path.exists():
            value = path.read_text().strip()
            if value:
                return value
        value = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value

    def read_state(self) -> dict[str, Any] | None:
        """The last state the platform wrote, or None when there is none."""
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ComindError(f"state file {self.state_file} is unreadable: {exc}") from None
        return data if isinstance(data, dict) else None

    def write_state(self, state: dict[str, Any]) -> None:
        """Replace state.json atomically so readers never see half a document."""
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)
