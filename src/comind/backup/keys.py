"""The platform's backup keys: the data keys of scope ``backup`` of the platform's keyring
(``governance/keyring.py``, given as an :class:`Envelope`: wrapped by its key-encryption key).
New artifacts use the current key; rotation adds a key and makes it current, and older keys
stay so older backups remain restorable. The keys of the ring that came before the keyring
(raw, in ``secrets/backup-keys.json``) move into it with their ids on first use, and the file
goes: artifacts they sealed still open. Without an envelope the ring is that file alone.
``export``/``load`` move the keys off the machine under a passphrase (scrypt + AES-256-GCM)
for disaster recovery: the legacy ring, and the state directory's secret files (the keyring
and its key-encryption key among them, the engines' passwords, the key sealing app
credentials, the API tokens): a platform rebuilt from its backups is the same platform."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.embedded.secret_files import locked, passphrase_key, write_json
from comind.errors import ComindError

FILE = "backup-keys.json"
SCOPE = "backup"
LOCK = ".backup-keys.lock"


class Ring(TypedDict):
    current: str | None
    keys: dict[str, str]  # id -> base64 key


class Export(TypedDict):
    """A key export's sealed contents (version 1 held the ring alone)."""

    ring: Ring
    secrets: dict[str, str]  # file name in the secrets directory -> its content


class _DataKey(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def key(self) -> bytes: ...


class Envelope(Protocol):
    """What the backup keys need of the platform's keyring (which satisfies it)."""

    def data_key(self, scope: str) -> _DataKey: ...
    def key(self, scope: str, key_id: str) -> bytes: ...
    def new_data_key(self, scope: str) -> _DataKey: ...
    def adopt(self, scope: str, key_id: str, key: bytes, *, current: bool = False) -> None: ...
    def key_ids(self, scope: str) -> list[str]: ...


class KeyRing:
    def __init__(self, secrets_dir: Path, envelope: Envelope | None = None) -> None:
        self.dir, self.path, self.envelope = secrets_dir, secrets_dir / FILE, envelope

    def current(self) -> tuple[str, bytes]:
        if self.envelope is not None:
            found = self._migrated().data_key(SCOPE)
            return found.id, found.key
        with self._locked():
            ring = self._read()
            if not ring["keys"]:
                return self._add(ring)
        key_id = ring["current"] or next(iter(ring["keys"]))
        return key_id, base64.b64decode(ring["keys"][key_id])

    def all(self) -> dict[str, bytes]:
        if self.envelope is not None:
            ring = self._migrated()
            return {k: ring.key(SCOPE, k) for k in ring.key_ids(SCOPE)}
        return {k: base64.b64decode(v) for k, v in self._read()["keys"].items()}

    def rotate(self) -> tuple[str, bytes]:
        """A new current key; the old ones are kept."""
        if self.envelope is not None:
            made = self._migrated().new_data_key(SCOPE)
            return made.id, made.key
        with self._locked():
            return self._add(self._read())

    def _migrated(self) -> Envelope:
        """The envelope, once the legacy file's keys are in it (the current one current)."""
        assert self.envelope is not None
        if self.path.exists():
            with self._locked():
                ring, fresh = self._read(), not self.envelope.key_ids(SCOPE)
                last = ring["current"] if fresh else None  # stays current when it was
                for key_id, key in sorted(ring["keys"].items(), key=lambda i: i[0] == last):
                    self.envelope.adopt(SCOPE, key_id, base64.b64decode(key),
                                        current=key_id == last)  # fmt: skip
                self.path.unlink(missing_ok=True)
        return self.envelope

    def _add(self, ring: Ring) -> tuple[str, bytes]:
        key_id = f"bk-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        key = AESGCM.generate_key(bit_length=256)
        ring["keys"][key_id] = base64.b64encode(key).decode()
        ring["current"] = key_id
        self._write(ring)
        return key_id, key

    def export(self, passphrase: str) -> bytes:
        salt, nonce = os.urandom(16), os.urandom(12)
        others = {str(p.relative_to(self.dir)): p.read_text() for p in sorted(self.dir.rglob("*"))
                  if p.is_file() and _plain_name(p.relative_to(self.dir))}  # fmt: skip
        plain = json.dumps({"ring": self._read(), "secrets": others}).encode()
        sealed = AESGCM(passphrase_key(passphrase, salt)).encrypt(nonce, plain, b"keys")
        return json.dumps({"v": 2, "kdf": "scrypt", "salt": salt.hex(), "nonce": nonce.hex(),
                           "keys": sealed.hex()}).encode()  # fmt: skip

    def load(self, exported: bytes, passphrase: str, *, platform: bool = False) -> list[str]:
        """Add the keys of an export; with ``platform`` (a DR restore into a new state
        directory) also the other secrets, where none exists yet. Returns the key ids."""
        plain = open_export(exported, passphrase)
        ring = plain["ring"]
        if platform:
            self._restore_secrets(plain["secrets"])
        with self._locked():
            mine = self._read()
            mine["keys"].update(ring["keys"])
            mine["current"] = mine["current"] or ring["current"]
            self._write(mine)
        if self.envelope is not None:
            self._migrated()
        return sorted(ring["keys"])

    def _restore_secrets(self, found: dict[str, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, value in found.items():
            if not _plain_name(Path(name)):
                continue  # only plain names belong in the secrets directory
            (self.dir / name).parent.mkdir(exist_ok=True, mode=0o700)
            with contextlib.suppress(FileExistsError):
                fd = os.open(self.dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(value)

    def _read(self) -> Ring:
        if not self.path.exists():
            return {"current": None, "keys": {}}
        ring: Ring = json.loads(self.path.read_text())
        return ring

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.dir, LOCK)

    def _write(self, ring: Ring) -> None:
        write_json(self.path, ring)


def open_export(exported: bytes, passphrase: str) -> Export:
    """The contents of a key export: ``ring`` and ``secrets``; one clear error when the
    passphrase is wrong or the file is not an export."""
    try:
        doc = json.loads(exported)
        key = passphrase_key(passphrase, bytes.fromhex(doc["salt"]))
        plain = json.loads(AESGCM(key).decrypt(
            bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["keys"]), b"keys"
        ))  # fmt: skip
    except InvalidTag:
        raise ComindError("wrong passphrase for this key export") from None
    except (ValueError, KeyError, TypeError):
        raise ComindError("not a Comind key export") from None
    export: Export = plain if doc["v"] >= 2 else {"ring": plain, "secrets": {}}
    return export


def _plain_name(relative: Path) -> bool:
    """A secret file the export carries: a file of the secrets directory or of one folder
    in it (``sealing/``: the keys the repository's sealed secrets open with), no dot file,
    never the legacy ring itself, nor where this platform ran (``*-url``: an external engine
    or backup store; a rebuilt platform runs on what it restored, and a recovery drill must
    not write into the production backup store)."""
    parts = relative.parts
    return (0 < len(parts) <= 2 and str(relative) != FILE and not relative.name.endswith("-url")
            and not any(p.startswith(".") or p in ("", "..") for p in parts))  # fmt: skip
