"""The app runtime: every app of the platform as a supervised local process.

:class:`AppRuntime` is the one entry point the GitOps layer uses. ``deploy`` only records
the desired revision and returns; each app's own thread (see
:mod:`comind.apps.supervised`) does the slow work, so a reconciler calling ``deploy`` and
``state`` from several threads never waits on a process or a probe. ``stop_all`` stops
the apps in parallel and returns when no app process is left, so platform shutdown
leaves no children behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from comind.apps.accounts import AppAccounts
from comind.apps.deployment import STOP_TIMEOUT
from comind.apps.jobs import JobOutcome, kill_strays, run_once
from comind.apps.logs import AppLog
from comind.apps.model import AppSpec, AppState
from comind.apps.probes import Probe
from comind.apps.supervised import SupervisedApp

__all__ = ["AppRuntime", "AppSpec", "AppState", "Probe"]


class AppRuntime:
    """All apps of the platform, by name; thread-safe."""

    def __init__(
        self,
        log_dir: Path,
        *,
        host: str = "127.0.0.1",
        ready_timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        accounts: AppAccounts | None = None,
    ) -> None:
        """``accounts``: the apps' own OS users and directories (the platform's); without
        them every app runs as the platform's user, from its checkout, with its HOME."""
        self.log_dir = log_dir
        self.accounts = accounts
        self.host = host
        self.ready_timeout = ready_timeout
        self.clock = clock
        self._apps: dict[str, SupervisedApp] = {}
        self._stopped: dict[str, SupervisedApp] = {}
        self._lock = threading.Lock()

    def deploy(self, spec: AppSpec) -> None:
        """Run revision ``spec.revision`` of the app; returns at once.

        The command runs under ``/bin/sh -c`` in ``spec.cwd`` (or its copy), as the app's
        own OS user when the runtime has accounts that can make one (else the platform's
        user), with a clean environment plus ``spec.env`` (and ``PORT``, the instance's
        internal port, when the app declares a port). It is healthy once its probe passes, or,
        without a probe, once it has been running for one second. Deploying the revision
        already desired (serving or starting) does nothing. Progress and failures are
        reported by :meth:`state`, never raised.
        """
        with self._lock:
            app = self._apps.get(spec.name)
            if app is None:
                app = self._apps[spec.name] = self._supervise(spec)
                self._stopped.pop(spec.name, None)
                app.start()
        app.deploy(spec)

    def run_once(self, spec: AppSpec, given: bytes, timeout: float) -> JobOutcome:
        """Run ``spec`` once, to its end, as its account, ``given`` on its standard input
        (apps/jobs.py); its errors go to its log. What it left running is killed."""
        log = AppLog(self.log_file(spec.name))
        try:
            return run_once(self.accounts, spec, given, log, timeout)
        finally:
            log.close()
            self.reap()

    def reap(self) -> int:
        """Kill every process of an account's OS user that is not a descendant of this
        process: a daemon a job or an instance left in a session of its own (red team 21f
        H5), which would keep the account's logins after its flow or app is gone. Every
        supervised instance and running job descends from the runtime's process."""
        users = self.accounts.users if self.accounts else {}
        return sum(kill_strays(account, uid) for account, uid in list(users.items()) if uid)

    def state(self, name: str) -> AppState | None:
        """The app's state; ``Stopped`` after :meth:`stop`, None for an app never deployed."""
        with self._lock:
            app = self._apps.get(name) or self._stopped.get(name)
        return app.state() if app is not None else None

    def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the app's processes (SIGKILL after ``timeout``) and forget its revision."""
        self._stop(self._take([name]), timeout)

    def stop_all(self) -> None:
        """Stop every app at once; returns when none of their processes is left."""
        with self._lock:
            names = list(self._apps)
        self._stop(self._take(names), STOP_TIMEOUT)

    def names(self) -> list[str]:
        """The apps deployed and not stopped."""
        with self._lock:
            return sorted(self._apps)

    def log_file(self, name: str) -> Path:
        """Where the app's output goes (rotated to ``<name>.log.1`` at 10 MB)."""
        return self.log_dir / f"{name}.log"

    def _supervise(self, spec: AppSpec) -> SupervisedApp:
        return SupervisedApp(
            spec,
            log_file=AppLog(self.log_file(spec.name)),
            host=self.host,
            ready_timeout=self.ready_timeout,
            clock=self.clock,
            accounts=self.accounts,
        )

    def _take(self, names: list[str]) -> list[SupervisedApp]:
        """Move the apps called ``names`` from the running to the stopped ones."""
        with self._lock:
            taken = [app for name in names if (app := self._apps.pop(name, None)) is not None]
            self._stopped.update((app.name, app) for app in taken)
        return taken

    def _stop(self, apps: list[SupervisedApp], timeout: float) -> None:
        for app in apps:
            app.request_stop(timeout)
        for app in apps:
            app.join()
