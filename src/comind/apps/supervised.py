"""One app under supervision: a thread of its own drives its :class:`Deployment`.

Only that thread touches the app's processes and forwarder; other threads hand it a new
desired spec (:meth:`SupervisedApp.deploy`) and read the last published
:class:`AppState`, both under one lock held only for those assignments, so ``deploy`` and
``state`` never wait on a process or a probe. The thread steps every 0.2 s, or at once
after a deploy or a stop request, with times from the injected clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from comind.apps.accounts import AppAccounts
from comind.apps.deployment import STOP_TIMEOUT, Deployment
from comind.apps.logs import AppLog
from comind.apps.metrics import APP_UP
from comind.apps.model import AppSpec, AppState, short

log = logging.getLogger("comind.apps")

TICK = 0.2


class SupervisedApp:
    """One app's deployment, the thread that drives it and the state it reports."""

    def __init__(
        self,
        spec: AppSpec,
        *,
        log_file: AppLog,
        host: str,
        ready_timeout: float,
        clock: Callable[[], float],
        accounts: AppAccounts | None = None,
    ) -> None:
        self.name = spec.name
        self._log = log_file
        self._clock = clock
        self._deployment = Deployment(spec.name, log_file=log_file, host=host,
                                      ready_timeout=ready_timeout, accounts=accounts)  # fmt: skip
        self._cond = threading.Condition()
        self._desired = spec
        self._woken = False
        self._stopping = False
        self._stop_timeout = STOP_TIMEOUT
        self._state = AppState(
            "Progressing", f"deploying revision {spec.short_revision}", None, None, 0, None
        )
        self._thread = threading.Thread(
            target=self._run, name=f"comind-app-{self.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def deploy(self, spec: AppSpec) -> None:
        """Make ``spec`` the desired revision; the same revision again changes nothing."""
        with self._cond:
            if spec.revision != self._desired.revision:
                self._desired, self._woken = spec, True
                # Progressing from this moment, not from the thread's next step: a caller
                # that deploys and then reads the state must not see the old revision Healthy
                serving = f"; serving revision {short(self._state.revision)}" if (
                    self._state.revision) else ""  # fmt: skip
                message = f"deploying revision {spec.short_revision}{serving}"
                self._state = replace(self._state, phase="Progressing", message=message)
                self._cond.notify()

    def state(self) -> AppState:
        with self._cond:
            return self._state

    def request_stop(self, timeout: float) -> None:
        """Ask the thread to stop every process (SIGKILL after ``timeout``) and end."""
        with self._cond:
            self._stopping, self._stop_timeout, self._woken = True, timeout, True
            self._cond.notify()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        spec = self._wanted(0)
        while spec is not None:
            try:
                self._deployment.step(spec, self._clock())
            except Exception:
                log.exception("app %s: supervision step failed", self.name)
            self._publish(self._deployment.state(spec))
            spec = self._wanted(TICK)
        self._shutdown()

    def _wanted(self, wait: float) -> AppSpec | None:
        """The desired spec after waiting up to ``wait`` s for news; None once stopping."""
        with self._cond:
            if wait and not self._woken:
                self._cond.wait(wait)
            self._woken = False
            return None if self._stopping else self._desired

    def _publish(self, state: AppState) -> None:
        with self._cond:
            before, self._state = self._state, state
        APP_UP.labels(self.name).set(1 if self._deployment.up() else 0)
        if before.phase != state.phase:
            level = logging.WARNING if state.phase == "Degraded" else logging.INFO
            log.log(level, "app %s is %s: %s", self.name, state.phase, state.message)

    def _shutdown(self) -> None:
        with self._cond:
            timeout = self._stop_timeout
        self._deployment.close(timeout)
        self._log.note("stopped")
        self._log.close()
        restarts = self.state().restarts
        self._publish(AppState("Stopped", "stopped", None, None, restarts, None))
