"""Restoring a base backup into a new data directory and running it as a side copy on a
free port (for inspection, for verification, or to copy data back from).

Every artifact's SHA-256 is checked against its manifest before anything is written, so a
corrupt or truncated artifact is named and refused up front; the decrypted stream is then
unpacked straight into the data directory. An incremental backup is restored with its
whole chain (the full backup it starts from and every incremental between): each is
unpacked beside the target and ``pg_combinebackup`` writes the data directory. PostgreSQL
replays the WAL the backup carries to reach consistency and then serves, as the same
service user as the platform.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from comind.backup.base import BUCKET, BackupError, manifest_key
from comind.backup.cluster import Cluster, answers
from comind.backup.crypto import open_stream
from comind.backup.manifest import PhysicalManifest, SealedManifest, parse_manifest
from comind.backup.pipeline import ahead
from comind.embedded.osuser import require_traverse
from comind.embedded.ports import free_port
from comind.embedded.postgres import PLAIN_HBA
from comind.embedded.process import engine_env
from comind.embedded.secret_files import write_bytes
from comind.stores.objects import ObjectStore
from comind.stores.postgres import PgTarget

START_TIMEOUT = 120.0


@dataclass
class SideCopy:
    """A restored cluster running on its own port."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    target: PgTarget  # its superuser, database "postgres"
    sockets: Path | None = None  # a private copy's socket directory (no TCP)

    def dsn(self, dbname: str = "postgres") -> str:
        return self.target.with_db(dbname).url()

    def stop(self, *, remove: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: fast shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if remove:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir.with_name(f"{self.data_dir.name}.hba").unlink(missing_ok=True)
        if self.sockets is not None:
            shutil.rmtree(self.sockets, ignore_errors=True)


def check_artifacts(store: ObjectStore, manifest: SealedManifest) -> None:
    """Every artifact exists and matches the manifest's checksum, or BackupError naming it."""
    for key in manifest.artifacts:
        digest = hashlib.sha256()
        try:
            for block in store.get_stream(BUCKET, key):
                digest.update(block)
        except Exception as exc:  # missing or unreadable
            raise BackupError(
                f"backup {manifest.id}: artifact {key} cannot be read: {exc}"
            ) from None
        if digest.hexdigest() != manifest.sha256:
            raise BackupError(f"backup {manifest.id}: artifact {key} is corrupt or truncated "
                              "(its SHA-256 does not match the manifest)")  # fmt: skip


def restore_side(
    cluster: Cluster, store: ObjectStore, manifest: PhysicalManifest, keys: dict[str, bytes],
    data_dir: Path, *, force: bool = False, progress: Callable[[int], None] = lambda n: None,
) -> SideCopy:  # fmt: skip
    """Restore ``manifest``'s backup into ``data_dir`` and start it on a free port."""
    unpack(cluster, store, manifest, keys, data_dir, force=force, progress=progress)
    own(data_dir, cluster)
    return start_side(cluster, data_dir)


def chain_of(store: ObjectStore, manifest: PhysicalManifest) -> list[PhysicalManifest]:
    """The backups a restore of ``manifest`` needs, oldest (the full one) first."""
    chain = [manifest]
    while parent := chain[0].parent:
        if any(link.id == parent for link in chain):
            raise BackupError(f"backup {manifest.id}: its chain loops at {parent}")
        chain.insert(0, _stored_parent(store, parent, chain[0], manifest))
    return chain


def _stored_parent(
    store: ObjectStore, parent: str, child: PhysicalManifest, restored: PhysicalManifest
) -> PhysicalManifest:
    gone = BackupError(f"backup {child.id} (in the chain of {restored.id}) needs {parent}, "
                       "which is gone")  # fmt: skip
    try:
        found = parse_manifest(store.get(BUCKET, manifest_key(parent)))
    except Exception:  # missing or unreadable
        raise gone from None
    if not isinstance(found, PhysicalManifest):
        raise gone
    return found


def unpack(
    cluster: Cluster, store: ObjectStore, manifest: PhysicalManifest, keys: dict[str, bytes],
    data_dir: Path, *, force: bool = False, progress: Callable[[int], None] = lambda n: None,
) -> None:  # fmt: skip
    """The backup's files in ``data_dir`` (all artifacts checked first, then decrypted and
    unpacked; a chain combined)."""
    chain = chain_of(store, manifest)
    for link in chain:
        check_artifacts(store, link)
    _prepare_dir(data_dir, force)
    if len(chain) == 1:
        _extract(store, manifest, keys, data_dir, progress)
    else:
        _combine(cluster, store, chain, keys, data_dir, progress)
    for stale in ("postmaster.pid", "postmaster.opts"):
        (data_dir / stale).unlink(missing_ok=True)


def _extract(
    store: ObjectStore, manifest: PhysicalManifest, keys: dict[str, bytes], into: Path,
    progress: Callable[[int], None],
) -> int:  # fmt: skip
    """The artifact's tar unpacked into ``into``, pipelined: one thread reads the stored
    file, another decrypts and decompresses it, and ``tar`` (a process of its own, so on
    another core) unpacks what this thread hands it; returns the bytes of the tar."""
    blocks = ahead(open_stream(ahead(store.get_stream(BUCKET, manifest.artifacts[0])), keys))
    tar = shutil.which("tar")
    if tar is None:  # no tar on this machine: Python's, in this thread
        plain = _Stream(blocks, progress)
        with tarfile.open(fileobj=plain, mode="r|") as archive:
            extract_trusted(archive, into)  # our own, authenticated artifact
        total = plain.total
    else:
        total = _untar(tar, blocks, into, progress)
    _put_pg_manifest(store, manifest, keys, into)
    return total


def _put_pg_manifest(
    store: ObjectStore, manifest: PhysicalManifest, keys: dict[str, bytes], into: Path
) -> None:
    """pg_basebackup's ``backup_manifest`` in the data directory (pg_verifybackup and
    pg_combinebackup read it there): a server-compressed backup keeps it beside its tar."""
    if manifest.pg_manifest is None or (into / "backup_manifest").exists():
        return
    with (into / "backup_manifest").open("wb") as out:
        for block in open_stream(store.get_stream(BUCKET, manifest.pg_manifest), keys):
            out.write(block)


def _untar(tar: str, blocks: Iterator[bytes], into: Path, progress: Callable[[int], None]) -> int:
    # as root, tar keeps the archive's modes and owners (own() then gives everything to the
    # server's user), as extract_trusted does
    argv = [tar, "-x", "-f", "-", "-C", str(into), "--numeric-owner"]
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: tar never blocks on it
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=errors, env=engine_env())
        total = _feed(proc, blocks, progress)
        errors.seek(0)
        err = errors.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        raise BackupError(f"unpacking failed: {(err.splitlines() or ['tar failed'])[-1]}")
    return total


def _feed(proc: subprocess.Popen[bytes], blocks: Iterator[bytes],
          progress: Callable[[int], None]) -> int:  # fmt: skip
    assert proc.stdin is not None
    total = 0
    try:
        for block in blocks:
            proc.stdin.write(block)
            total += len(block)
            progress(total)
    except BrokenPipeError:
        pass  # tar stopped early: its message says why
    except BaseException:  # the artifact failed to open: tar must not finish as if whole
        proc.kill()
        proc.wait()
        raise
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    proc.wait()
    return total


def extract_trusted(tar: tarfile.TarFile, into: Path) -> None:
    """Every member of ``tar`` into ``into`` as it is (modes, links, owners kept). Pythons
    before 3.11.4 (Debian 12's 3.11.2) have no extraction filters and do exactly this."""
    if hasattr(tarfile, "fully_trusted_filter"):
        tar.extractall(into, filter="fully_trusted")
    else:
        tar.extractall(into)


def _combine(
    cluster: Cluster, store: ObjectStore, chain: list[PhysicalManifest],
    keys: dict[str, bytes], data_dir: Path, progress: Callable[[int], None],
) -> None:  # fmt: skip
    parts = data_dir.parent / f"{data_dir.name}-parts"
    shutil.rmtree(parts, ignore_errors=True)
    try:
        done = 0
        for i, link in enumerate(chain):
            (parts / str(i)).mkdir(parents=True)
            done += _extract(store, link, keys, parts / str(i), partial(_after, progress, done))
        data_dir.rmdir()  # pg_combinebackup creates it
        result = subprocess.run(
            [cluster.tool("pg_combinebackup"), *(str(parts / str(i)) for i in range(len(chain))),
             "-o", str(data_dir)],
            capture_output=True, text=True, check=False, env=engine_env(),
        )  # fmt: skip
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackupError(f"pg_combinebackup failed: {last}")
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def start_side(
    cluster: Cluster, data_dir: Path, settings: dict[str, str] | None = None,
    *, private: bool = False, superuser: tuple[str, str] | None = None, trusted: bool = False,
) -> SideCopy:  # fmt: skip
    """Run the cluster in ``data_dir`` on a free port (``settings``: more server settings,
    given on the command line so none of them stays in the data directory). ``private``: no
    TCP at all, only a socket in a directory of the server's OS user and an hba of its own
    (password logins on it alone), for a copy the platform checks: it holds every app's data
    and its roles' passwords as they were, and no app may log in to it. ``superuser``: its
    (name, password), when not the live cluster's (a restored copy has the live one's).
    ``trusted``: private, and its socket lets in without a password (a copy whose
    superuser's password the platform does not know: one taken of a server it did not run);
    no more open than a password: only the server's OS user and root reach that socket, and
    they can read the data files anyway."""
    private = private or trusted
    sockets, hba = _socket_dir(cluster, trusted) if private else (None, None)
    host = str(sockets) if sockets else cluster.target.host
    port = 5432 if sockets else free_port(host)
    log = _log_file(data_dir.parent / f"{data_dir.name}.log", append=True)
    if sockets:
        listen = {"listen_addresses": "", "unix_socket_directories": host,
                  "hba_file": str(hba)}  # fmt: skip
    else:  # never the restored pg_hba.conf: another server's may trust logins (19a M3)
        listen = {"listen_addresses": host, "unix_socket_directories": "",
                  "hba_file": str(_side_hba(cluster, data_dir))}  # fmt: skip
    given = {**listen, "port": str(port), "archive_mode": "off", **(settings or {})}
    proc = subprocess.Popen(
        [cluster.tool("postgres"), "-D", str(data_dir),
         *(arg for k, v in given.items() for arg in ("-c", f"{k}={v}"))],
        stdout=log, stderr=subprocess.STDOUT, user=cluster.run_as.uid, group=cluster.run_as.gid,
        extra_groups=cluster.run_as.extra_groups,
        cwd=data_dir.parent, env=engine_env(),
    )  # fmt: skip
    log.close()
    # the side copy is plain TCP on loopback (or its socket), whatever the live cluster requires
    user, password = superuser or (cluster.target.user, cluster.target.password)
    target = PgTarget(host, port, user, password, "postgres", sslmode="disable")
    side = SideCopy(data_dir, port, proc, target, sockets)
    _wait_ready(side, data_dir.parent / f"{data_dir.name}.log")
    return side


PRIVATE_HBA = "local all all scram-sha-256\n"
TRUSTED_HBA = "local all all trust\n"  # a socket only the server's OS user and root reach


def _socket_dir(cluster: Cluster, trusted: bool) -> tuple[Path, Path]:
    """A new directory only the server's OS user (and root) may enter, short enough for a
    socket path (at most 107 bytes), and the hba in it: written while the directory is
    still root's, so the server's user cannot plant a link for root to write through
    (red team 19a L6)."""
    path = Path(tempfile.mkdtemp(prefix="comind-side-"))
    hba = _own_file(cluster, path / "pg_hba.conf", TRUSTED_HBA if trusted else PRIVATE_HBA)
    cluster.run_as.chown(path)
    return path, hba


def _side_hba(cluster: Cluster, data_dir: Path) -> Path:
    """Passwords over TCP, beside the copy's data directory (it lives as long as the copy)."""
    return _own_file(cluster, data_dir.parent / f"{data_dir.name}.hba", PLAIN_HBA)


def _own_file(cluster: Cluster, path: Path, text: str) -> Path:
    """``text`` in ``path`` (0600) given to the server's OS user; never through a link
    someone left at ``path`` (the directory may be that user's)."""
    write_bytes(path, text.encode())
    cluster.run_as.chown(path)
    return path


def _log_file(path: Path, *, append: bool) -> IO[bytes]:
    """The copy's log, opened by root beside a data directory the server's OS user may own:
    never through a link that user left there (red team 19a L6)."""
    if append:
        if path.is_symlink():
            path.unlink()  # the link itself, not what it points to
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        return os.fdopen(os.open(path, flags, 0o600), "ab")
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


def _wait_ready(side: SideCopy, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if side.process.poll() is not None:
            with _log_file(log, append=False) as handle:
                tail = handle.read().decode(errors="replace").strip().splitlines()[-3:]
            raise BackupError(f"the restored copy did not start: {' | '.join(tail)}")
        if answers(side.target):
            return
        time.sleep(0.3)
    side.stop()
    raise BackupError(f"the restored copy did not answer within {START_TIMEOUT:.0f} s")


def _prepare_dir(data_dir: Path, force: bool) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        if not force:
            raise BackupError(f"{data_dir} is not empty; choose another directory or pass --force")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


def own(data_dir: Path, cluster: Cluster) -> None:
    """Give the unpacked cluster to the server's OS user, which must be able to reach it
    (see :func:`comind.embedded.osuser.require_traverse`). Its parent stays as it is: root
    writes beside the data directory (the copy's log and hba, the fetched WAL, the chain's
    parts), so a parent given to that user (``restores/`` was, with the first copy made in
    it) would let it plant links for root to write through (helper 52, red team 19a L6)."""
    os.chmod(data_dir, 0o700)
    if cluster.run_as.uid is None:
        return
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            cluster.run_as.chown(Path(root) / name)
    cluster.run_as.chown(data_dir)
    require_traverse(data_dir, cluster.run_as)


def _after(progress: Callable[[int], None], done: int, n: int) -> None:
    progress(done + n)


class _Stream(io.RawIOBase):
    """An iterator of byte chunks as a readable file (what tarfile's stream mode reads)."""

    def __init__(self, chunks: Iterable[bytes], progress: Callable[[int], None]) -> None:
        self.chunks: Iterator[bytes] = iter(chunks)
        self.buf, self.pos, self.total, self.progress = memoryview(b""), 0, 0, progress

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while self.pos >= len(self.buf):  # an offset, never a copy of the rest of the chunk
            nxt = next(self.chunks, None)
            if nxt is None:
                return 0
            self.buf, self.pos = memoryview(nxt), 0
        n = min(len(target), len(self.buf) - self.pos)
        target[:n] = self.buf[self.pos : self.pos + n]
        self.pos += n
        self.total += n
        self.progress(self.total)
        return n
