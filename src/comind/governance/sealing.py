"""Secrets at rest: AES-256-GCM with a random nonce per value, under the platform key.

The platform key is 32 random bytes kept in the state directory (mode 0600). A value
sealed under one key cannot be opened (nor silently altered) without it.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from comind.errors import ComindError
from comind.governance.kek import seal, unseal


class Sealer:
    """Seal and open small secrets with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the platform key must be 32 bytes")
        self._key = key

    def seal(self, plaintext: str, *, context: str) -> bytes:
        """``context`` (e.g. the access key id) is bound to the ciphertext as associated data."""
        return seal(self._key, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, *, context: str) -> str:
        try:
            return unseal(self._key, sealed, context.encode()).decode()
        except InvalidTag:
            raise ComindError(
                "a sealed secret does not open with the platform key "
                "(wrong key, or the value was altered)"
            ) from None
