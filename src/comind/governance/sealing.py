"""Secrets at rest: AES-256-GCM with a random nonce per value, under the platform key.

The platform key is 32 random bytes kept in the state directory (mode 0600). A value
sealed under one key cannot be opened (nor silently altered) without it.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.errors import ComindError

NONCE = 12


class Sealer:
    """Seal and open small secrets with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the platform key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, *, context: str) -> bytes:
        """``context`` (e.g. the access key id) is bound to the ciphertext as associated data."""
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, *, context: str) -> str:
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], context.encode()).decode()
        except InvalidTag:
            raise ComindError(
                "a sealed secret does not open with the platform key "
                "(wrong key, or the value was altered)"
            ) from None
