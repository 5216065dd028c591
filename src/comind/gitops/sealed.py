"""Sealed secrets: values encrypted for one platform, safe to commit to the platform repo.

``secrets/APP/NAME.sealed.yaml`` holds one entry per environment. Every value gets its own
random AES-256-GCM key and nonce, and that key is wrapped with the platform's RSA-3072
sealing key (OAEP-SHA256). Sealing needs only the public key; opening needs the private
key, which stays in the state directory (the key ring: :mod:`comind.gitops.sealing_keys`).

Guarantees, and why:

* A value opens only where it was sealed for: ``APP/ENV/NAME/KEY`` is the GCM associated
  data, so a file copied to another app, an entry copied to another environment, a renamed
  secret or values swapped between data keys fail to open instead of leaking.
* Changing any byte of a value is detected (GCM tag; OAEP padding of the wrapped key).
* Keys renew (see :mod:`comind.gitops.sealing_keys`); what older keys sealed still opens
  until :func:`reseal` moves entries to the newest key.
* No plaintext in errors: failures name the file, scope, data key or key id, never a
  value, and are raised without a chained cause.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from comind.errors import UsageError
from comind.gitops.sealing_keys import PublicSealingKey, SealedSecretError, SealingKeys, temp_file
from comind.spec.references import SECRET_SUFFIX, SECRETS_DIR

API_VERSION = "comind/v1"
KIND = "SealedSecret"
HEADER = "# Sealed secret: safe to commit. Only the platform holding the sealing key can open it.\n"
NONCE = 12
_DATA_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*\Z")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class SealedEntry(TypedDict):
    """One environment's part of a sealed file."""

    keyId: str
    data: dict[str, str]


@dataclass
class SealedDoc:
    """A sealed file as read: its scope and each environment's entry."""

    app: str
    name: str
    environments: dict[str, SealedEntry]


# -- sealing and opening values


def check_scope(*, app: str, env: str, name: str) -> None:
    """Refuse an app, environment or secret name that is not a DNS label."""
    for what, value in (("app", app), ("environment", env), ("secret name", name)):
        if not _LABEL.match(value):
            raise UsageError(
                f"{what} '{value}' must be a DNS label: lowercase letters, digits and '-'"
            )


def check_data_key(key: str) -> None:
    """Refuse a data key that does not look like an environment variable name."""
    if not _DATA_KEY.match(key):
        raise UsageError(
            f"data key '{key}' must look like an environment variable: "
            "A-Z, 0-9 and '_', not starting with a digit"
        )


def seal_values(
    key: SealingKeys | PublicSealingKey,
    *,
    app: str,
    env: str,
    name: str,
    values: Mapping[str, str],
) -> SealedEntry:
    """``values`` sealed for ``app/env/name`` under ``key`` (the newest when given all keys)."""
    check_scope(app=app, env=env, name=name)
    if not values:
        raise UsageError("nothing to seal: give at least one value")
    for data_key in values:
        check_data_key(data_key)
    public = key.public() if isinstance(key, SealingKeys) else key
    rsa_key = serialization.load_pem_public_key(public.pem)
    if not isinstance(rsa_key, rsa.RSAPublicKey):
        raise SealedSecretError(f"sealing key {public.key_id} is not an RSA public key")
    data = {k: _seal_one(rsa_key, _aad(app, env, name, k), v) for k, v in sorted(values.items())}
    return {"keyId": public.key_id, "data": data}


def unseal(path: Path, keys: SealingKeys, *, app: str, env: str, name: str) -> dict[str, str]:
    """The values of ``env``'s entry in the sealed file ``path``, sealed for ``app``/``name``."""
    doc = read_sealed(path)
    if (doc.app, doc.name) != (app, name):
        raise SealedSecretError(
            f"{path} is sealed for {doc.app}/{doc.name}, not {app}/{name}; seal it again for {app}"
        )
    entry = doc.environments.get(env)
    if entry is None:
        raise SealedSecretError(
            f"{path} has no entry for environment '{env}'; "
            f"add one with `comind seal --app {app} --env {env} --name {name} ...`"
        )
    return _open_entry(path, keys, entry, app=app, env=env, name=name)


def reseal(path: Path, keys: SealingKeys) -> int:
    """Re-encrypt each entry of ``path`` not under the newest key; how many entries changed."""
    doc = read_sealed(path)
    newest = keys.public()
    stale = [env for env, entry in doc.environments.items() if entry["keyId"] != newest.key_id]
    for env in stale:
        scope = {"app": doc.app, "env": env, "name": doc.name}
        values = _open_entry(path, keys, doc.environments[env], **scope)
        doc.environments[env] = seal_values(newest, **scope, values=values)
    if stale:
        _replace(path, _render(doc))
    return len(stale)


def _aad(app: str, env: str, name: str, data_key: str) -> bytes:
    return f"{app}/{env}/{name}/{data_key}".encode()


def _seal_one(public: rsa.RSAPublicKey, aad: bytes, value: str) -> str:
    data_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(NONCE)
    wrapped = public.encrypt(data_key, _OAEP)
    sealed = AESGCM(data_key).encrypt(nonce, value.encode(), aad)
    return base64.b64encode(len(wrapped).to_bytes(2, "big") + wrapped + nonce + sealed).decode()


def _open_one(private: rsa.RSAPrivateKey, aad: bytes, text: str) -> str:
    raw = base64.b64decode(text, validate=True)
    end = 2 + int.from_bytes(raw[:2], "big")
    data_key = private.decrypt(raw[2:end], _OAEP)
    return AESGCM(data_key).decrypt(raw[end : end + NONCE], raw[end + NONCE :], aad).decode()


def _open_entry(
    path: Path, keys: SealingKeys, entry: SealedEntry, *, app: str, env: str, name: str
) -> dict[str, str]:
    private = keys._private_key(entry["keyId"])
    values: dict[str, str] = {}
    for data_key, text in entry["data"].items():
        try:
            values[data_key] = _open_one(private, _aad(app, env, name, data_key), text)
        except (ValueError, InvalidTag):
            raise SealedSecretError(
                f"{path}: {data_key} of {app}/{env}/{name} does not open: it was sealed for "
                "another app, environment, name or key, or it was altered; seal it again"
            ) from None
    return values


# -- the file


def sealed_files(root: Path) -> list[Path]:
    """Every ``secrets/APP/NAME.sealed.yaml`` in the repo at ``root``."""
    return sorted(root.glob(f"{SECRETS_DIR}/*/*{SECRET_SUFFIX}"))


def read_sealed(path: Path) -> SealedDoc:
    """The sealed file at ``path``, its shape checked (nothing is decrypted)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SealedSecretError(f"no sealed secret at {path}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise SealedSecretError(f"{path} is not a YAML file") from None
    return _parse(path, raw)


def write_sealed(path: Path, app: str, name: str, env: str, entry: SealedEntry) -> None:
    """Create ``path`` or set its ``env`` entry; other environments stay as they were."""
    check_scope(app=app, env=env, name=name)
    doc = read_sealed(path) if path.exists() else SealedDoc(app, name, {})
    if (doc.app, doc.name) != (app, name):
        raise SealedSecretError(
            f"{path} holds the sealed secret {doc.app}/{doc.name}, not {app}/{name}"
        )
    doc.environments[env] = entry
    _replace(path, _render(doc))


def _parse(path: Path, raw: Any) -> SealedDoc:
    header = (raw.get("apiVersion"), raw.get("kind")) if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or header != (API_VERSION, KIND):
        raise _malformed(path, f"expected apiVersion: {API_VERSION} and kind: {KIND}")
    app, name, envs = raw.get("app"), raw.get("name"), raw.get("environments")
    if not isinstance(app, str) or not isinstance(name, str) or not isinstance(envs, dict):
        raise _malformed(path, "expected app, name and environments")
    return SealedDoc(app, name, {str(env): _entry(path, env, e) for env, e in envs.items()})


def _entry(path: Path, env: Any, raw: Any) -> SealedEntry:
    key_id = raw.get("keyId") if isinstance(raw, dict) else None
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(key_id, str) or not isinstance(data, dict):
        raise _malformed(path, f"environment '{env}' needs keyId and data")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise _malformed(path, f"environment '{env}': data must map KEY to a sealed value")
    return {"keyId": key_id, "data": dict(data)}


def _malformed(path: Path, what: str) -> SealedSecretError:
    return SealedSecretError(f"{path} is not a sealed secret: {what}")


def _render(doc: SealedDoc) -> str:
    environments = {
        env: {"keyId": entry["keyId"], "data": dict(sorted(entry["data"].items()))}
        for env, entry in sorted(doc.environments.items())
    }
    body = {
        "apiVersion": API_VERSION, "kind": KIND, "app": doc.app, "name": doc.name,
        "environments": environments,
    }  # fmt: skip
    return HEADER + yaml.safe_dump(body, sort_keys=False, width=1 << 16)


def _replace(path: Path, text: str) -> None:
    """Write ``path`` atomically: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file(path.parent, text.encode())
    try:
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
