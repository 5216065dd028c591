"""SealedSecrets in bitnami's format, sealed for the controller's certificate.

A value is encrypted as the ``kubeseal`` CLI does (strict scope): a random AES-256-GCM
session key used once (so a zero nonce), wrapped with the certificate's RSA key by OAEP
(SHA-256) whose label is ``NAMESPACE/NAME``, so the controller opens it only as that Secret;
the stored value is the wrapped key's length (2 bytes, big-endian), the wrapped key and the
GCM ciphertext, base64. Only the controller's private key opens it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.errors import UsageError

SESSION_KEY_BYTES = 32
NONCE = bytes(12)  # each session key seals one value


def load_certificate(pem: bytes) -> rsa.RSAPublicKey:
    """The controller's public key, from its certificate (``kubeseal --fetch-cert``)."""
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise UsageError("--sealing-cert: not a PEM certificate (kubeseal --fetch-cert "
                         "prints the controller's)") from None  # fmt: skip
    if not isinstance(key, rsa.RSAPublicKey):
        raise UsageError("--sealing-cert: the certificate's key is not RSA")
    return key


def seal(key: rsa.RSAPublicKey, namespace: str, name: str, value: bytes) -> str:
    """``value`` sealed for Secret ``namespace/name``."""
    session = os.urandom(SESSION_KEY_BYTES)
    label = f"{namespace}/{name}".encode()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    wrapped = key.encrypt(session, oaep)
    sealed = AESGCM(session).encrypt(NONCE, value, None)
    return base64.b64encode(len(wrapped).to_bytes(2, "big") + wrapped + sealed).decode()


def sealed_secret(
    key: rsa.RSAPublicKey, namespace: str, name: str, values: Mapping[str, str],
    meta: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """A SealedSecret that the controller turns into Secret ``namespace/name``."""
    data = {k: seal(key, namespace, name, v.encode()) for k, v in sorted(values.items())}
    return {
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {**meta, "name": name, "namespace": namespace},
        "spec": {"encryptedData": data,
                 "template": {"metadata": {"name": name, "namespace": namespace},
                              "type": "Opaque"}},
    }  # fmt: skip
