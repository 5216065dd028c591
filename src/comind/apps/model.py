"""What the app runtime is asked to run and what it reports back.

An :class:`AppSpec` is immutable and identified by its ``revision``: the caller folds
everything that should trigger a redeploy (commit, command, env, port, probe) into that
digest, and the runtime redeploys exactly when it changes. The environment holds
secrets, so it is left out of ``repr`` and never copied into states or messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from comind.apps.probes import Probe
from comind.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class AppSpec:
    """One revision of one app, as the runtime should run it."""

    name: str
    command: str
    cwd: Path
    env: Mapping[str, str] = field(repr=False)
    revision: str
    port: int | None = None
    probe: Probe | None = None
    account: str = ""  # its OS user's name in the platform (default: the app's name)

    def __post_init__(self) -> None:
        for name in filter(None, (self.name, self.account)):
            if not _NAME.fullmatch(name):
                raise UsageError(f"app name {name!r} must be letters, digits, '.', '_' or '-'")
        if self.probe is not None and self.probe.http is not None and self.port is None:
            raise UsageError(f"app {self.name}: an http health probe needs the app's port")

    @property
    def account_name(self) -> str:
        return self.account or self.name

    @property
    def short_revision(self) -> str:
        return short(self.revision)


@dataclass(frozen=True)
class AppState:
    """What the runtime knows of one app; ``message`` is one line without secrets."""

    phase: str
    message: str
    revision: str | None
    pid: int | None
    restarts: int
    started_at: datetime | None


def short(revision: str) -> str:
    """A revision as it appears in messages: the first 12 characters of the digest."""
    return revision[:12]
