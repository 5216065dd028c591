"""The keyring: envelope encryption for everything the platform keeps encrypted at rest.

Data is encrypted with **data keys** (AES-256-GCM, 32 random bytes), one current key per
*scope*: ``bucket/<name>``, ``dataset/<name>``, ``backup``, ``pii/hmac`` (the key PII
hashes are HMACs under, so they join across datasets but a dictionary cannot reverse them),
``pii/vault`` (the token vault's values). A data key is stored only wrapped by the
key-encryption key (:mod:`.kek`), in ``secrets/data-keys.json`` (mode 0600), with the KEK
version that wrapped it. So rotating the KEK (:meth:`Keyring.rotate`) re-wraps a few
hundred bytes per data key and re-encrypts no data, the way Vault transit's ``rewrap``
does; an old KEK version is kept until :meth:`Keyring.retire` finds nothing wrapped by it.

A scope's data key is replaced only on request (:meth:`Keyring.new_data_key`, for
re-encrypting data); older data keys of the scope stay so that data written under them
still reads. The HMAC key is never replaced: a new one would break every join.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from comind.embedded.secret_files import locked, write_json
from comind.errors import ComindError
from comind.governance.kek import Kek, LocalKek

FILE = "data-keys.json"
LOCK = ".keyring.lock"
HMAC_SCOPE = "pii/hmac"
VAULT_SCOPE = "pii/vault"  # the seed of the token vault's X25519 key (never replaced either)


@dataclass(frozen=True)
class DataKey:
    scope: str
    id: str
    key: bytes


class Wrapped(TypedDict):
    kek: str  # the KEK version that wrapped it
    wrapped: str  # base64
    created: str


class Scope(TypedDict):
    current: str
    keys: dict[str, Wrapped]


@dataclass(frozen=True)
class Rotation:
    kek_version: str
    rewrapped: int


@dataclass(frozen=True)
class ScopeStatus:
    scope: str
    current: str
    keys: dict[str, str]  # data key id -> KEK version wrapping it


class Keyring:
    """Data keys per scope under one KEK. Thread- and process-safe: every change holds a
    file lock from read to write. Unwrapped keys are cached (a key id never changes its
    bytes); the wrapping is read from the file each time."""

    def __init__(self, secrets_dir: Path, kek: Kek | None = None) -> None:
        self.dir, self.path = secrets_dir, secrets_dir / FILE
        self.kek: Kek = kek or LocalKek(secrets_dir, os.environ.get("COMIND_KEK_PASSPHRASE"))
        self._plain: dict[tuple[str, str], bytes] = {}

    def data_key(self, scope: str) -> DataKey:
        """The scope's current data key, made on first use."""
        doc = self._read()
        if scope not in doc:
            with self._locked():
                doc = self._read()
                if scope not in doc:
                    return self._add(doc, scope)
        key_id = doc[scope]["current"]
        return DataKey(scope, key_id, self.key(scope, key_id))

    def key(self, scope: str, key_id: str) -> bytes:
        """The data key ``key_id`` of ``scope``, current or older."""
        if (scope, key_id) not in self._plain:
            wrapped = self._read().get(scope, {"keys": {}})["keys"].get(key_id)
            if wrapped is None:
                raise ComindError(f"no data key {key_id} for {scope} in the keyring")
            self._plain[scope, key_id] = self._unwrap(scope, key_id, wrapped)
        return self._plain[scope, key_id]

    def hmac_key(self) -> bytes:
        return self.data_key(HMAC_SCOPE).key

    def vault_key(self) -> bytes:
        """The token vault's key: tokens' values are sealed to the public key derived from
        it, so it is never replaced (re-wrapped by a KEK rotation like every data key)."""
        return self.data_key(VAULT_SCOPE).key

    def new_data_key(self, scope: str) -> DataKey:
        """A new current data key for ``scope``; the older ones are kept."""
        if scope == HMAC_SCOPE:
            raise ComindError("the PII hashing key is never replaced (hashes would stop joining)")
        with self._locked():
            return self._add(self._read(), scope)

    def adopt(self, scope: str, key_id: str, key: bytes, *, current: bool = False) -> None:
        """Bring in a key made before the keyring (a legacy backup key) under its own id, so
        what it encrypted still opens; ``current`` makes it the scope's current key."""
        with self._locked():
            doc = self._read()
            entry = doc.setdefault(scope, {"current": key_id, "keys": {}})
            if key_id not in entry["keys"]:
                entry["keys"][key_id] = self._wrap(scope, key_id, key)
            if current:
                entry["current"] = key_id
            self._write(doc)
        self._plain[scope, key_id] = key

    def key_ids(self, scope: str) -> list[str]:
        return sorted(self._read().get(scope, {"keys": {}})["keys"])

    def rotate(self) -> Rotation:
        """A new KEK version, and every data key re-wrapped under it."""
        with self._locked():
            version = self.kek.new_version()
            doc = self._read()
            count = 0
            for scope, entry in doc.items():
                for key_id, wrapped in entry["keys"].items():
                    entry["keys"][key_id] = self._wrap(
                        scope, key_id, self._unwrap(scope, key_id, wrapped)
                    )
                    count += 1
            self._write(doc)
        return Rotation(version, count)

    def retire(self, version: str) -> None:
        """Delete KEK ``version``; refused while a data key is still wrapped by it."""
        with self._locked():
            users = ", ".join(
                s
                for s, e in sorted(self._read().items())
                if any(w["kek"] == version for w in e["keys"].values())
            )
            if users:
                raise ComindError(
                    f"key-encryption key {version} still wraps data keys of {users}: rotate first"
                )
            self.kek.retire(version)

    def status(self) -> list[ScopeStatus]:
        return [
            ScopeStatus(scope, e["current"], {k: w["kek"] for k, w in e["keys"].items()})
            for scope, e in sorted(self._read().items())
        ]

    def _add(self, doc: dict[str, Scope], scope: str) -> DataKey:
        key_id = f"dk-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        key = secrets.token_bytes(32)
        entry = doc.setdefault(scope, {"current": key_id, "keys": {}})
        entry["keys"][key_id] = self._wrap(scope, key_id, key)
        entry["current"] = key_id
        self._write(doc)
        self._plain[scope, key_id] = key
        return DataKey(scope, key_id, key)

    def _wrap(self, scope: str, key_id: str, key: bytes) -> Wrapped:
        version, wrapped = self.kek.wrap(key, context=_context(scope, key_id))
        return {"kek": version, "wrapped": base64.b64encode(wrapped).decode(),
                "created": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip

    def _unwrap(self, scope: str, key_id: str, wrapped: Wrapped) -> bytes:
        raw = base64.b64decode(wrapped["wrapped"])
        return self.kek.unwrap(wrapped["kek"], raw, context=_context(scope, key_id))

    def _read(self) -> dict[str, Scope]:
        if not self.path.exists():
            return {}
        doc: dict[str, Scope] = json.loads(self.path.read_text())
        return doc

    def _write(self, doc: dict[str, Scope]) -> None:
        write_json(self.path, doc)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.dir, LOCK)


def _context(scope: str, key_id: str) -> bytes:
    """Bound to the wrapping: a wrapped key moved to another scope or id does not open."""
    return f"comind data key {scope} {key_id}".encode()
