"""Sealed secrets of a platform repo, sealed and resealed with the state directory's keys.

What ``comind seal`` does, done here so the command only parses and renders: values are
sealed for one app, environment and name into ``secrets/APP/NAME.sealed.yaml``; the keys
rotate; every sealed file of a repo moves to the newest key. Values are never returned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from comind.embedded.home import StateDir
from comind.gitops.sealed import (
    check_scope,
    reseal,
    seal_values,
    sealed_files,
    write_sealed,
)
from comind.gitops.sealing_keys import sealing_keys
from comind.governance.sealing import Sealer
from comind.observe.logs import redact
from comind.spec.references import secret_file


@dataclass(frozen=True)
class Sealed:
    path: Path
    key_id: str


@dataclass(frozen=True)
class SealingKey:
    key_id: str
    created: datetime
    newest: bool


def seal_into(
    home: StateDir, repo: Path, *, app: str, env: str, name: str, values: dict[str, str]
) -> Sealed:
    """``values`` sealed for ``app`` in ``env`` under ``name``, written into ``repo``."""
    check_scope(app=app, env=env, name=name)
    path = secret_file(repo, app, name)
    entry = seal_values(sealing_keys(home), app=app, env=env, name=name, values=values)
    write_sealed(path, app, name, env, entry)
    return Sealed(path, entry["keyId"])


def rotate_key(home: StateDir) -> SealingKey:
    """A new sealing key; older keys stay to open what they sealed."""
    keys = sealing_keys(home)
    key_id = keys.rotate()
    return SealingKey(key_id, keys.created(key_id), True)


def reseal_repo(home: StateDir, repo: Path) -> tuple[str, dict[str, int]]:
    """Every sealed file of ``repo`` re-encrypted with the newest key: that key and the
    entries changed per file."""
    keys = sealing_keys(home)
    changed = {str(path): n for path in sealed_files(repo) if (n := reseal(path, keys))}
    return keys.current(), changed


def key_list(home: StateDir) -> list[SealingKey]:
    """Every sealing key, oldest first; the newest seals."""
    keys = sealing_keys(home)
    ids = keys.ids()
    return [SealingKey(k, keys.created(k), k == ids[-1]) for k in ids]


def platform_sealer(home: StateDir) -> Sealer:
    """The sealer under this state directory's platform key."""
    return Sealer(state_key(home, "platform-key"))


def state_key(home: StateDir, name: str) -> bytes:
    """A 32-byte key from the state directory's secret ``name`` (made on first use); the
    secret itself is redacted from every log line from now on."""
    secret = home.secret(name)
    redact(secret)
    return hashlib.sha256(secret.encode()).digest()
