"""Sealing to a public key: X25519 + HKDF-SHA256 + AES-256-GCM, in the style of a sealed
box. Whoever holds the public key can seal; only the holder of the private key can open.

Flow workers run app code and hold no secret of the platform's (platform/worker.py), yet
they must keep the raw values of the PII fields of the records they quarantine. They seal
them to the platform's quarantine public key, which the platform publishes in its database
(``comind.quarantine_key``, readable by the workers' login); the private key is derived
from the platform key and never leaves the platform process. A worker that leaks its
public key leaks nothing: it opens no stored value.

A sealed value is ``ephemeral public key (32) | nonce (12) | ciphertext+tag``; the AES key
is HKDF of the X25519 shared secret, salted with both public keys; ``context`` (the row it
belongs to) is the associated data, so a sealed value moved to another row does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from comind.errors import ComindError

KEY, NONCE = 32, 12
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def _derive(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY, salt=salt, info=info).derive(secret)


def public_bytes(key: X25519PublicKey) -> bytes:
    return key.public_bytes(*_RAW)


def seal_to(public: bytes, plaintext: bytes, *, context: str) -> bytes:
    """``plaintext`` sealed to the holder of the private key of ``public``."""
    recipient = X25519PublicKey.from_public_bytes(public)
    ephemeral = X25519PrivateKey.generate()
    mine = public_bytes(ephemeral.public_key())
    key = _derive(ephemeral.exchange(recipient), mine + public, b"comind sealbox")
    nonce = os.urandom(NONCE)
    return mine + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


class SealBox:
    """The private side: derived from the platform key, so it needs no storage of its own."""

    def __init__(self, platform_key: bytes, purpose: str) -> None:
        seed = _derive(platform_key, b"", f"comind x25519 {purpose}".encode())
        self._private = X25519PrivateKey.from_private_bytes(seed)
        self.public = public_bytes(self._private.public_key())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        theirs, nonce, body = sealed[:KEY], sealed[KEY : KEY + NONCE], sealed[KEY + NONCE :]
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(theirs))
            key = _derive(shared, theirs + self.public, b"comind sealbox")
            return AESGCM(key).decrypt(nonce, body, context.encode())
        except (InvalidTag, ValueError):
            raise ComindError(
                "a sealed value does not open with the platform key "
                "(wrong key, another row's value, or altered)"
            ) from None
