"""The platform's backup keys: a key ring in the state directory (``secrets/backup-keys.json``,
mode 0600). New artifacts use the current key; rotation adds a key and makes it current,
and older keys stay so older backups remain restorable. ``export``/``load`` move the ring
off the machine under a passphrase (scrypt + AES-256-GCM) for disaster recovery."""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from comind.errors import ComindError

FILE = "backup-keys.json"


class Ring(TypedDict):
    current: str | None
    keys: dict[str, str]  # id -> base64 key


class KeyRing:
    def __init__(self, secrets_dir: Path) -> None:
        self.path = secrets_dir / FILE

    def current(self) -> tuple[str, bytes]:
        ring = self._read()
        if not ring["keys"]:
            return self.rotate()
        key_id = ring["current"] or next(iter(ring["keys"]))
        return key_id, base64.b64decode(ring["keys"][key_id])

    def all(self) -> dict[str, bytes]:
        return {k: base64.b64decode(v) for k, v in self._read()["keys"].items()}

    def rotate(self) -> tuple[str, bytes]:
        """A new current key; the old ones are kept."""
        ring = self._read()
        key_id = f"bk-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        key = AESGCM.generate_key(bit_length=256)
        ring["keys"][key_id] = base64.b64encode(key).decode()
        ring["current"] = key_id
        self._write(ring)
        return key_id, key

    def export(self, passphrase: str) -> bytes:
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(_derive(passphrase, salt)).encrypt(
            nonce, json.dumps(self._read()).encode(), b"keys"
        )
        return json.dumps({"v": 1, "kdf": "scrypt", "salt": salt.hex(), "nonce": nonce.hex(),
                           "keys": sealed.hex()}).encode()  # fmt: skip

    def load(self, exported: bytes, passphrase: str) -> list[str]:
        """Add the keys of an export (a DR restore); returns their ids."""
        try:
            doc = json.loads(exported)
            key = _derive(passphrase, bytes.fromhex(doc["salt"]))
            plain = AESGCM(key).decrypt(
                bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["keys"]), b"keys"
            )
            ring: Ring = json.loads(plain)
        except InvalidTag:
            raise ComindError("wrong passphrase for this key export") from None
        except (ValueError, KeyError, TypeError):
            raise ComindError("not a Comind key export") from None
        mine = self._read()
        mine["keys"].update(ring["keys"])
        mine["current"] = mine["current"] or ring["current"]
        self._write(mine)
        return sorted(ring["keys"])

    def _read(self) -> Ring:
        if not self.path.exists():
            return {"current": None, "keys": {}}
        ring: Ring = json.loads(self.path.read_text())
        return ring

    def _write(self, ring: Ring) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(ring, handle)
        os.replace(tmp, self.path)


def _derive(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
