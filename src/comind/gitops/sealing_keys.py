"""The platform's sealing keys: RSA-3072 key pairs in the state directory, the newest one seals.

Each key is one file, ``secrets/sealing/KEY_ID.pem`` (0600): a first line with its creation
time, then the PKCS#8 private key. Sealing needs only the public key; opening needs the
private key, which never leaves this directory.

Guarantees, and why:

* Keys renew: :meth:`SealingKeys.current` makes a new key once the newest is
  ``renew_after`` old (injected clock). Older keys stay, so what they sealed still opens,
  until :func:`comind.gitops.sealed.reseal` moves entries to the newest key. Creation times
  strictly increase, so "newest" holds even when the clock stands still or steps back.
* A key file is complete or absent: it is written to a temporary file, flushed, and linked
  into place, so two processes making a key at once never overwrite one another.
* No key material in errors: failures name the file or key id only.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from comind.embedded.home import StateDir
from comind.errors import ComindError

RSA_BITS = 3072
RENEW_AFTER = timedelta(days=30)
_KEY_LINE = "Comind sealing key {} created {}\n"
_KEY_ID = re.compile(r"^[0-9]{8}-[0-9a-f]{6}\Z")

Clock = Callable[[], datetime]


class SealedSecretError(ComindError):
    """A sealed secret cannot be written or opened; the message never holds a value."""


@dataclass(frozen=True)
class PublicSealingKey:
    """All sealing needs: a key id and its RSA public key as PEM."""

    key_id: str
    pem: bytes


def utc_now() -> datetime:
    return datetime.now(UTC)


class SealingKeys:
    """The platform's RSA sealing keys in one directory; the newest one seals."""

    def __init__(
        self, directory: Path, *, renew_after: timedelta = RENEW_AFTER, clock: Clock = utc_now
    ) -> None:
        self.directory = directory
        self.renew_after = renew_after
        self._clock = clock
        self._loaded: dict[bytes, rsa.RSAPrivateKey] = {}

    def ids(self) -> list[str]:
        """Every key id, oldest first."""
        return [key_id for key_id, _ in self._index()]

    def created(self, key_id: str) -> datetime:
        """When ``key_id`` was made (UTC)."""
        return _created_of(self._path(key_id))

    def current(self) -> str:
        """The newest key id; a new key when there is none or the newest is due to renew."""
        index = self._index()
        if index and self._now() - index[-1][1] < self.renew_after:
            return index[-1][0]
        return self._create(index[-1][1] if index else None)

    def rotate(self) -> str:
        """Make a new key now and return its id; older keys stay for opening."""
        index = self._index()
        return self._create(index[-1][1] if index else None)

    def public(self) -> PublicSealingKey:
        """The current key's id and public key."""
        key_id = self.current()
        return PublicSealingKey(key_id, self.public_pem(key_id))

    def public_pem(self, key_id: str | None = None) -> bytes:
        """The public key ``key_id`` (default: the current one) as PEM."""
        public = self._private_key(key_id or self.current()).public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _private_key(self, key_id: str) -> rsa.RSAPrivateKey:
        """The private key ``key_id``, read from its file each time (loaded once per content)."""
        path = self._path(key_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SealedSecretError(
                f"sealing key {key_id} is missing from {self.directory}; restore it from a "
                "backup, or seal the secret again with `comind seal`"
            ) from None
        digest = hashlib.sha256(data).digest()
        if digest not in self._loaded:
            self._loaded[digest] = _load_private(path, data)
        return self._loaded[digest]

    def _path(self, key_id: str) -> Path:
        if not _KEY_ID.match(key_id):
            raise SealedSecretError(f"'{key_id}' is not a sealing key id (expected YYYYMMDD-hex)")
        return self.directory / f"{key_id}.pem"

    def _index(self) -> list[tuple[str, datetime]]:
        if not self.directory.is_dir():
            return []
        found = [(p.stem, _created_of(p)) for p in self.directory.glob("*.pem")]
        return sorted(found, key=lambda item: (item[1], item[0]))

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _create(self, newest: datetime | None) -> str:
        created = self._now()
        if newest is not None and created <= newest:
            created = newest + timedelta(microseconds=1)
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._make_directory()
        while True:
            key_id = f"{created:%Y%m%d}-{secrets.token_hex(3)}"
            text = _KEY_LINE.format(key_id, created.isoformat()).encode() + pem
            if _write_new(self._path(key_id), text):
                return key_id

    def _make_directory(self) -> None:
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.mkdir(mode=0o700, exist_ok=True)


def sealing_keys(
    home: StateDir, *, renew_after: timedelta = RENEW_AFTER, clock: Clock = utc_now
) -> SealingKeys:
    """The sealing keys of the platform whose state directory is ``home``."""
    return SealingKeys(home.sealing_keys, renew_after=renew_after, clock=clock)


def _load_private(path: Path, data: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SealedSecretError(f"sealing key file {path} holds no RSA private key")
    return key


def _created_of(path: Path) -> datetime:
    """The creation time on a key file's first line (text before the PEM, per RFC 7468)."""
    try:
        with path.open("rb") as handle:
            line = handle.readline().decode("ascii", "replace")
    except FileNotFoundError:
        raise SealedSecretError(f"no sealing key {path.stem} in {path.parent}") from None
    try:
        return datetime.fromisoformat(line.rsplit(" ", 1)[-1].strip()).astimezone(UTC)
    except ValueError:
        raise SealedSecretError(f"sealing key file {path} has no creation time line") from None


def _write_new(path: Path, data: bytes) -> bool:
    """Create ``path`` (mode 0600) whole and at once; False when it already exists."""
    tmp = temp_file(path.parent, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def temp_file(directory: Path, data: bytes) -> str:
    """A new mode-0600 file in ``directory`` holding ``data``, flushed to disk."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp
