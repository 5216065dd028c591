"""The key-encryption key (KEK): the one key that wraps every data key of the keyring.

:class:`Kek` is what the keyring needs from it: wrap and unwrap a data key under a named
version, make a new version, retire an old one. :class:`LocalKek` keeps the versions in the
state directory (``secrets/kek.json``, mode 0600), optionally each wrapped under a
passphrase (scrypt + AES-256-GCM, ``COMIND_KEK_PASSPHRASE``) so that a copy of the state
directory alone does not open the data. An external KMS or Vault transit implements the
same protocol: its ``wrap`` is transit's ``encrypt`` with the key version it names, its
``unwrap`` is ``decrypt``; the keyring never sees the KEK itself.
"""

from __future__ import annotations

import base64
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol, TypedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.embedded.secret_files import passphrase_key, write_json
from comind.errors import ComindError

FILE = "kek.json"
NONCE = 12


class Kek(Protocol):
    def current(self) -> str: ...

    def versions(self) -> list[str]: ...

    def wrap(self, plaintext: bytes, *, context: bytes) -> tuple[str, bytes]:
        """``plaintext`` wrapped under the current version: (version, wrapped)."""
        ...

    def unwrap(self, version: str, wrapped: bytes, *, context: bytes) -> bytes: ...

    def new_version(self) -> str:
        """A new current version; the older ones still unwrap until retired."""
        ...

    def retire(self, version: str) -> None: ...


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    """AES-256-GCM with a random nonce (nonce + ciphertext); ``context`` is bound as
    associated data. The one sealing of a value under a key: KEK versions, data keys,
    secrets at rest, encrypted PII fields."""
    nonce = os.urandom(NONCE)
    return nonce + _aead(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    """The plaintext of :func:`seal`; raises ``InvalidTag`` for a wrong key or an edit."""
    return _aead(key).decrypt(sealed[:NONCE], sealed[NONCE:], context)


@lru_cache(maxsize=64)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)  # its key schedule, once per key: fields are encrypted one by one


class KekFile(TypedDict):
    current: str | None
    versions: dict[str, str | dict[str, str]]  # base64 key, or {salt, sealed} (hex)


class LocalKek:
    """KEK versions in ``<secrets>/kek.json``: ``{"current": "v2", "versions": {"v1": ...}}``,
    each version its key in base64, or ``{"salt", "sealed"}`` under the passphrase."""

    def __init__(self, secrets_dir: Path, passphrase: str | None = None) -> None:
        self.dir, self.path, self.passphrase = secrets_dir, secrets_dir / FILE, passphrase
        self._keys: dict[str, bytes] = {}

    def current(self) -> str:
        doc = self._read()
        if doc["current"] is None:
            return self.new_version()
        return doc["current"]

    def versions(self) -> list[str]:
        return sorted(self._read()["versions"], key=_number)

    def wrap(self, plaintext: bytes, *, context: bytes) -> tuple[str, bytes]:
        version = self.current()
        return version, seal(self._key(version), plaintext, context)

    def unwrap(self, version: str, wrapped: bytes, *, context: bytes) -> bytes:
        try:
            return unseal(self._key(version), wrapped, context)
        except InvalidTag:
            raise ComindError(
                f"a data key does not unwrap with key-encryption key {version} "
                "(wrong key, or the keyring file was altered)"
            ) from None

    def new_version(self) -> str:
        doc = self._read()
        version = f"v{max((_number(v) for v in doc['versions']), default=0) + 1}"
        key = AESGCM.generate_key(bit_length=256)
        doc["versions"][version] = self._stored(key)
        doc["current"] = version
        self._write(doc)
        self._keys[version] = key
        return version

    def retire(self, version: str) -> None:
        doc = self._read()
        if version == doc["current"]:
            raise ComindError(f"{version} is the current key-encryption key: rotate first")
        if doc["versions"].pop(version, None) is None:
            raise ComindError(f"no key-encryption key {version}")
        self._write(doc)
        self._keys.pop(version, None)

    def _key(self, version: str) -> bytes:
        if version not in self._keys:
            stored = self._read()["versions"].get(version)
            if stored is None:
                raise ComindError(f"key-encryption key {version} is retired or unknown")
            self._keys[version] = self._opened(stored)
        return self._keys[version]

    def _stored(self, key: bytes) -> str | dict[str, str]:
        if self.passphrase is None:
            return base64.b64encode(key).decode()
        salt = os.urandom(16)
        sealed = seal(passphrase_key(self.passphrase, salt), key, b"comind kek")
        return {"salt": salt.hex(), "sealed": sealed.hex()}

    def _opened(self, stored: str | dict[str, str]) -> bytes:
        if isinstance(stored, str):
            return base64.b64decode(stored)
        if self.passphrase is None:
            raise ComindError(
                "the key-encryption key is passphrase-wrapped: set COMIND_KEK_PASSPHRASE"
            )
        try:
            salt, sealed = bytes.fromhex(stored["salt"]), bytes.fromhex(stored["sealed"])
            return unseal(passphrase_key(self.passphrase, salt), sealed, b"comind kek")
        except InvalidTag:
            raise ComindError("wrong COMIND_KEK_PASSPHRASE for the key-encryption key") from None

    def _read(self) -> KekFile:
        if not self.path.exists():
            return {"current": None, "versions": {}}
        doc: KekFile = json.loads(self.path.read_text())
        return doc

    def _write(self, doc: KekFile) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(self.path, doc)


def _number(version: str) -> int:
    return int(version.lstrip("v"))
