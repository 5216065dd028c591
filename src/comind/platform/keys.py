"""Key rotation and status, on the state directory's keyring: what ``comind keys`` does,
through the API when the platform runs (``api/keys.py``), else here directly.

Rotating makes a new KEK version and re-wraps every data key under it: no data is
re-encrypted, and objects and backups written before still read (their data keys are the
same bytes). With ``reencrypt``, every encrypted bucket and the backups also get a new data
key, which new writes use; what was written before stays under the older keys, which the
keyring keeps, and the platform re-encrypts them in the background (:mod:`.reencrypt`). An
old KEK version is retired only once no data key is wrapped by it.
"""

from __future__ import annotations

from typing import Any

from comind.backup.keys import KeyRing
from comind.embedded.home import StateDir
from comind.governance.keyring import Keyring
from comind.platform.reencrypt import Reencryption
from comind.stores.object_crypto import scope
from comind.stores.objects import FileObjectStore


def backup_keys(home: StateDir) -> KeyRing:
    """The backup keys: scope ``backup`` of the state directory's keyring."""
    return KeyRing(home.secrets, Keyring(home.secrets))


class KeyService:
    def __init__(self, home: StateDir) -> None:
        self.home, self.keyring = home, Keyring(home.secrets)
        self.reencryption = Reencryption(FileObjectStore(home.objects), self.keyring)

    def rotate(self, *, reencrypt: bool = False) -> dict[str, Any]:
        rotation = self.keyring.rotate()
        renewed: list[str] = []
        if reencrypt:
            for bucket in self.reencryption.encrypted():
                renewed.append(self.keyring.new_data_key(scope(bucket)).scope)
            backup_keys(self.home).rotate()
            renewed.append("backup")
        return {"kek_version": rotation.kek_version, "rewrapped": rotation.rewrapped,
                "new_data_keys": renewed}  # fmt: skip

    def retire(self, version: str) -> dict[str, Any]:
        self.keyring.retire(version)
        return {"retired": version, "kek_versions": self.keyring.kek.versions()}

    def status(self) -> dict[str, Any]:
        scopes = [{"scope": s.scope, "current": s.current, "keys": s.keys}
                  for s in self.keyring.status()]  # fmt: skip
        return {"kek_current": self.keyring.kek.current(),
                "kek_versions": self.keyring.kek.versions(), "scopes": scopes,
                "reencrypt_remaining": self.reencryption.remaining()}  # fmt: skip
