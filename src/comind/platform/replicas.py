"""Control-plane replicas (``COMIND_REPLICA_KEY``): several platform processes, each with a
state directory of its own, on the same external engines.

Every replica serves the API and the S3 and SQS endpoints. One, the leader, also syncs the
repository (and so runs the apps and flow workers), takes and tests backups and sweeps: it
holds a PostgreSQL advisory lock on a session of its own. The others try the lock every
second and lead as soon as the leader's session ends (a killed leader's ends with its
process); a leader that loses its session stops, for its supervisor to start it again as a
follower, since it can no longer tell whether another leads. A follower refuses changes
through its API and names the leader.

The replicas share their secrets (the data and sealing keys, the key that seals the engines'
passwords in the database, the API's tokens): the files of ``secrets/`` sealed with
AES-256-GCM under a key derived from ``COMIND_REPLICA_KEY``, in the platform database. A
replica installs them before it reads any; the leader publishes them once it started and
whenever they change. Where the engines are (``*-url``) stays each replica's own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.errors import ComindError
from comind.stores.postgres import DatabaseError, PgTarget
from comind.stores.replica_state import Leader, ReplicaState

log = logging.getLogger(__name__)

TRY_EVERY = 1.0  # seconds between a follower's tries of the lock
CHECK_EVERY = 2.0  # seconds between a leader's checks of its session
NOT_SHARED = ("postgres-password", "redis-password")  # an embedded engine's, never a replica's
NONCE = 12


def sealing_key(replica_key: str) -> bytes:
    """The AES-256 key the shared secrets are sealed with, derived from the replica key."""
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"comind-replicas", info=b"secrets")
    return kdf.derive(replica_key.encode())


def bundle(directory: Path) -> bytes:
    """The shared files of ``directory`` (relative name -> content), as canonical JSON."""
    files = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_file() and not path.is_symlink() and _shared(name):
            files[name] = base64.b64encode(path.read_bytes()).decode()
    return json.dumps(files, sort_keys=True).encode()


def unbundle(directory: Path, data: bytes) -> int:
    """Write the files of ``data`` into ``directory`` (0600, each replaced whole); how many."""
    files: dict[str, str] = json.loads(data)
    for name, content in files.items():
        path = directory / name
        if not _shared(name) or directory.resolve() not in path.resolve().parents:
            raise ComindError(f"the shared secrets hold {name!r}, which no replica shares")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64decode(content))
        temp.replace(path)
    return len(files)


def _shared(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.endswith("-url") and base not in NOT_SHARED and not base.startswith(".")


class Replicas:
    """This replica: its shared secrets and its part in leadership."""

    def __init__(self, db: PgTarget, replica_key: str, secrets_dir: Path, name: str,
                 api_url: str) -> None:  # fmt: skip
        self.state, self.dir, self.name, self.api_url = ReplicaState(db), secrets_dir, name, api_url
        self.aead = AESGCM(sealing_key(replica_key))

    # -- secrets

    def install(self) -> bool:
        """The shared secrets written into this replica's directory; False: none yet."""
        sealed = self.state.secrets()
        if sealed is None:
            return False
        try:
            plain = self.aead.decrypt(sealed[:NONCE], sealed[NONCE:], b"secrets")
        except Exception:  # InvalidTag: another key sealed them
            raise ComindError("the replicas' shared secrets are sealed under another "
                              "COMIND_REPLICA_KEY than this replica's") from None  # fmt: skip
        log.info("installed %d shared secret file(s)", unbundle(self.dir, plain))
        return True

    def publish(self) -> None:
        """This replica's secrets, for the others (written only when they changed)."""
        plain = bundle(self.dir)
        nonce = os.urandom(NONCE)
        sealed = nonce + self.aead.encrypt(nonce, plain, b"secrets")
        self.state.publish(sealed, hashlib.sha256(plain).hexdigest())

    # -- leadership

    def try_lead(self) -> bool:
        if not self.state.try_lead(self.name, self.api_url):
            return False
        log.info("replica %s leads", self.name)
        return True

    def leader(self) -> Leader | None:
        return self.state.leader()

    def follow(self, stop: threading.Event, on_lead: Callable[[], None]) -> None:
        """Until ``stop``: try the lock every second; once it is ours, ``on_lead``."""
        while not stop.wait(TRY_EVERY):
            try:
                leads = self.try_lead()
            except DatabaseError as exc:  # the database restarting: try again
                log.warning("replica %s: leadership not tried: %s", self.name, exc)
                self.state.close()
                continue
            if leads:
                on_lead()
                return

    def keep(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Until ``stop``: check the lock's session; if it is gone, so is the lead."""
        while not stop.wait(CHECK_EVERY):
            try:
                alive = self.state.still_leading()
            except DatabaseError:
                alive = False
            if not alive:
                log.error("replica %s lost its leader's session: stopping (start it again to "
                          "follow)", self.name)  # fmt: skip
                on_lost()
                return

    def close(self) -> None:
        self.state.close()

    def leads_at_start(self, wait: float) -> bool:
        """Lead now if no replica does (with the shared secrets, if an earlier leader left
        them), else follow: with the leader's secrets, waited for up to ``wait`` seconds."""
        if self.try_lead():
            self.install()
            return True
        deadline = time.monotonic() + wait
        while not self.install():
            if time.monotonic() > deadline:
                raise ComindError(f"no replica published the shared secrets within {wait:.0f} "
                                  "s: is the leading replica still starting?")  # fmt: skip
            time.sleep(TRY_EVERY)
        log.info("replica %s follows", self.name)
        return False


def join(db: PgTarget, settings: Settings, home: StateDir, api_url: str) -> Replicas | None:
    """This platform as a replica, when ``settings`` give the replica key; None: alone."""
    if settings.replica_key is None:
        return None
    if home.engine_url("postgres", settings.postgres_url) is None:
        raise ComindError("replicas share engines of their own: set COMIND_POSTGRES_URL (and "
                          "COMIND_REDIS_URL) on every replica")  # fmt: skip
    name = f"{socket.gethostname()}:{os.getpid()}"
    return Replicas(db, settings.replica_key.get_secret_value(), home.secrets, name, api_url)
