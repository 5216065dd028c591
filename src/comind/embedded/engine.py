"""What every embedded engine offers the supervisor, and the shared process lifecycle.

An engine is started, checked and stopped by the platform; the supervisor decides
when to restart it. ``ProcessEngine`` holds the lifecycle common to PostgreSQL and
Redis: prepare the data directory, launch, wait until the health check answers (or
fail with the engine's own last log lines), stop with a graceful signal.
"""

from __future__ import annotations

import abc
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from comind.embedded.home import StateDir
from comind.embedded.osuser import RunAs
from comind.embedded.process import launch, log_tail, owned_by, pid_alive, terminate
from comind.embedded.settings import Settings
from comind.errors import ComindError
from comind.observe.metrics import ENGINE_START_SECONDS


class EngineError(ComindError):
    """An engine could not be started or reached; the message carries the engine's words."""


@dataclass(frozen=True)
class EngineInfo:
    """What ``comind status`` shows of one engine."""

    pid: int | None
    address: str
    version: str
    tls_ca: Path | None = None  # TLS only, verified against this CA (None: plain TCP)


class Engine(abc.ABC):
    """One supervised engine."""

    name: str

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def alive(self) -> bool:
        """The engine's process exists (cheap; no network)."""

    @abc.abstractmethod
    def check(self) -> bool:
        """The engine answers a real request."""

    @abc.abstractmethod
    def info(self) -> EngineInfo: ...


class ProcessEngine(Engine):
    """An engine that is one server process we launch and own."""

    stop_signal = signal.SIGTERM

    def __init__(self, *, log: Path, cwd: Path, run_as: RunAs, start_timeout: float) -> None:
        self.log = log
        self.cwd = cwd
        self.run_as = run_as
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._version = ""

    @abc.abstractmethod
    def prepare(self) -> None:
        """Create or repair on-disk state before a launch."""

    @abc.abstractmethod
    def argv(self) -> list[str]: ...

    @abc.abstractmethod
    def read_version(self) -> str: ...

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def pid_file(self) -> Path:
        return self.cwd / f"{self.name}.pid"

    def start(self) -> None:
        self._stop_orphan()
        self.prepare()
        began = time.monotonic()
        self._proc = launch(self.argv(), log=self.log, run_as=self.run_as, cwd=self.cwd)
        self.pid_file.write_text(str(self._proc.pid))
        while not self.check():
            if self._proc.poll() is not None:
                raise EngineError(f"{self.name} exited while starting: {log_tail(self.log)}")
            if time.monotonic() - began > self.start_timeout:
                self.stop()
                raise EngineError(
                    f"{self.name} did not answer within {self.start_timeout:.0f}s: "
                    f"{log_tail(self.log)}"
                )
            time.sleep(0.1)
        ENGINE_START_SECONDS.labels(self.name).observe(time.monotonic() - began)
        self._version = self.read_version()

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            terminate(self._proc.pid, sig=self.stop_signal, timeout=30)
        self._proc.wait()
        self._proc = None

    def _stop_orphan(self) -> None:
        """Stop a server a dead platform left running on our data (never two on one AOF/PGDATA)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        if pid != self.pid and pid_alive(pid) and owned_by(pid, self.cwd):
            terminate(pid, sig=self.stop_signal, timeout=30)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and pid_alive(self._proc.pid)

    def info(self) -> EngineInfo:
        return EngineInfo(pid=self.pid if self.alive() else None, address=self.address,
                          version=self._version, tls_ca=self.client_ca)  # fmt: skip

    @property
    def client_ca(self) -> Path | None:
        """The CA certificate clients verify this engine against; None: plain TCP."""
        return None

    @property
    @abc.abstractmethod
    def address(self) -> str: ...


class TcpEngine(ProcessEngine):
    """A server process of the state directory listening on ``settings.host:port`` with a
    generated password (PostgreSQL, Redis)."""

    def __init__(self, home: StateDir, settings: Settings, *, cwd: Path, run_as: RunAs) -> None:
        super().__init__(
            log=home.engine_log(self.name),
            cwd=cwd,
            run_as=run_as,
            start_timeout=settings.start_timeout,
        )
        self.home, self.settings = home, settings
        self.password = home.secret(f"{self.name}-password")
        self.port = 0

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
