"""The instances of one app and how they change, one step at a time.

A :class:`Deployment` is driven by a single thread (see :mod:`comind.apps.supervised`)
and is not thread-safe. Each :meth:`Deployment.step` looks at the facts and acts:

* a new revision of an app with a port, while the current instance runs, starts a
  *candidate* next to it; once the candidate passes its probe the forwarder switches to
  it, open connections drain, and the old instance stops. A candidate that exits or is
  not healthy within ``ready_timeout`` is stopped and the old revision keeps serving,
  reported ``Degraded``; that revision is not retried until another one is deployed.
* any other new revision replaces the current instance (stop old, then start new); if it
  is not healthy within ``ready_timeout`` it is reported ``Degraded`` but kept running
  and restarted, since nothing older could serve instead.
* an instance that exits is restarted after a backoff (0.5 s doubling to 30 s, reset
  after a minute healthy); a ready instance failing its probe three times in a row is
  reported ``Degraded`` but left running.

Phase and message are derived from those facts (:meth:`Deployment.state`), so they can
never disagree with what is running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from comind.apps.accounts import AppAccounts, shared
from comind.apps.instance import Instance
from comind.apps.logs import AppLog
from comind.apps.metrics import APP_DEPLOYS, APP_RESTARTS
from comind.apps.model import AppSpec, AppState, short
from comind.apps.proxy import PublicPort
from comind.embedded.ports import free_port
from comind.embedded.supervisor import STABLE_AFTER_SECONDS, backoff
from comind.errors import ComindError

log = logging.getLogger("comind.apps")

FAILED_CHECKS_BEFORE_DEGRADED = 3
STOP_TIMEOUT = 10.0
DRAIN_TIMEOUT = 5.0
CLEANUP_TIMEOUT = 2.0
LAUNCH_ERRORS = (OSError, ComindError)  # the process, or its account, could not be made


@dataclass(frozen=True)
class Rollout:
    """A revision on its way in, and when it must be healthy by."""

    revision: str
    deadline: float


@dataclass(frozen=True)
class Problem:
    """Why the app is Degraded regardless of its processes, and which revision it is about."""

    revision: str
    message: str


class Deployment:
    """The serving instance, a candidate revision and the public port of one app."""

    def __init__(
        self,
        name: str,
        *,
        log_file: AppLog,
        host: str,
        ready_timeout: float,
        accounts: AppAccounts | None = None,
    ) -> None:
        self.name = name
        self._accounts = accounts
        self._log = log_file
        self._host = host
        self._ready_timeout = ready_timeout
        self._port = PublicPort(host)
        self._serving: Instance | None = None
        self._candidate: Instance | None = None
        self._rollout: Rollout | None = None
        self._problem: Problem | None = None
        self._failed: str | None = None
        self._crash: str | None = None
        self._next_restart: float | None = None
        self._failures = 0
        self._restarts = 0

    def step(self, spec: AppSpec, now: float) -> None:
        """Move one step towards running ``spec`` healthily."""
        if self._candidate is not None:
            self._watch_candidate(self._candidate, spec, now)
        elif spec.revision not in (self._serving_revision(), self._failed):
            self._roll_out(spec, now)
        if self._serving is not None:
            self._supervise(self._serving, now)

    def state(self, desired: AppSpec) -> AppState:
        """What to report now, ``desired`` being the revision asked for."""
        phase, message = self._assess(desired)
        live = self._live()
        return AppState(
            phase=phase,
            message=message,
            revision=self._serving_revision(),
            pid=live.pid if live else None,
            restarts=self._restarts,
            started_at=live.started_at if live else None,
        )

    def up(self) -> bool:
        """True when the serving instance is ready, running and passing its checks."""
        live = self._live()
        return (
            live is not None
            and live.ready
            and self._crash is None
            and live.failed_checks < FAILED_CHECKS_BEFORE_DEGRADED
        )

    def close(self, timeout: float) -> None:
        """Stop every instance (SIGKILL after ``timeout``) and the forwarder."""
        for instance in (self._candidate, self._serving):
            if instance is not None:
                instance.stop(timeout)
        self._candidate = self._serving = None
        self._port.close()

    def _serving_revision(self) -> str | None:
        return self._serving.spec.revision if self._serving else None

    # --- rollouts ---------------------------------------------------------------------

    def _roll_out(self, spec: AppSpec, now: float) -> None:
        self._failed, self._problem = None, None
        self._rollout = Rollout(spec.revision, now + self._ready_timeout)
        if self._can_overlap(spec):
            self._start_candidate(spec, now)
        else:
            self._replace(spec, now)

    def _can_overlap(self, spec: AppSpec) -> bool:
        old = self._serving
        return (
            spec.port is not None
            and old is not None
            and old.spec.port == spec.port
            and self._next_restart is None
            and old.exit_code() is None
        )

    def _start_candidate(self, spec: AppSpec, now: float) -> None:
        try:
            self._candidate = self._launch(spec, now)
        except LAUNCH_ERRORS as exc:
            self._refuse(spec.revision, f"cannot start: {exc}")

    def _replace(self, spec: AppSpec, now: float) -> None:
        if self._serving is not None:
            self._serving.stop(STOP_TIMEOUT)
            self._serving = None
        self._reset_crashes()
        if (taken := self._port.listen(spec.port)) is not None:
            self._problem = Problem(spec.revision, taken)
            return
        try:
            self._serve(self._launch(spec, now))
        except LAUNCH_ERRORS as exc:
            self._failed = spec.revision
            self._fail(spec.revision, f"revision {spec.short_revision} cannot start: {exc}")

    def _watch_candidate(self, candidate: Instance, spec: AppSpec, now: float) -> None:
        if candidate.spec.revision != spec.revision:
            candidate.stop(STOP_TIMEOUT)
            self._candidate = None
            return
        code = candidate.exit_code()
        if code is not None:
            candidate.stop(CLEANUP_TIMEOUT)
            self._refuse(candidate.spec.revision, candidate.ending(code))
            return
        candidate.check(now)
        if candidate.ready:
            self._promote(candidate)
        elif self._past_deadline(now):
            why = f"not healthy within {self._ready_timeout:g} s ({candidate.reason})"
            self._refuse(candidate.spec.revision, why)

    def _promote(self, candidate: Instance) -> None:
        old, self._serving, self._candidate = self._serving, None, None
        self._serve(candidate)
        self._reset_crashes()
        self._deployed("succeeded")
        self._log.note(f"revision {candidate.spec.short_revision} is healthy and now serving")
        if old is not None:
            self._port.drain(old.port, DRAIN_TIMEOUT)
            old.stop(STOP_TIMEOUT)

    def _refuse(self, revision: str, reason: str) -> None:
        """The candidate ``revision`` failed: stop it, keep the old one, remember why."""
        if self._candidate is not None:
            self._candidate.stop(STOP_TIMEOUT)
            self._candidate = None
        self._failed = revision
        still = self._serving_revision()
        serving = f"; still serving revision {short(still)}" if still else ""
        self._fail(revision, f"revision {short(revision)} never became healthy: {reason}{serving}")

    def _fail(self, revision: str, message: str) -> None:
        self._problem = Problem(revision, message)
        self._deployed("failed")
        self._log.note(message)
        log.warning("app %s: %s", self.name, message)

    def _rolling_out(self, instance: Instance) -> bool:
        return self._rollout is not None and self._rollout.revision == instance.spec.revision

    def _past_deadline(self, now: float) -> bool:
        return self._rollout is not None and now >= self._rollout.deadline

    def _deployed(self, outcome: str) -> None:
        APP_DEPLOYS.labels(self.name, outcome).inc()
        self._rollout = None

    # --- the serving instance ---------------------------------------------------------

    def _supervise(self, serving: Instance, now: float) -> None:
        if self._next_restart is not None:
            if now >= self._next_restart:
                self._restart(serving.spec, now)
            return
        code = serving.exit_code()
        if code is not None:
            self._crashed(serving, code, now)
            return
        serving.check(now)
        if serving.ready:
            self._healthy(serving, now)
        elif self._rolling_out(serving) and self._past_deadline(now):
            why = self._crash or serving.reason
            self._fail(
                serving.spec.revision,
                f"revision {serving.spec.short_revision} never became healthy within "
                f"{self._ready_timeout:g} s: {why}",
            )

    def _healthy(self, serving: Instance, now: float) -> None:
        self._crash = None
        if self._rolling_out(serving):
            self._deployed("succeeded")
        if self._problem is not None and self._problem.revision == serving.spec.revision:
            self._problem = None
        assert serving.ready_since is not None
        if self._failures and now - serving.ready_since >= STABLE_AFTER_SECONDS:
            self._failures = 0

    def _crashed(self, serving: Instance, code: int, now: float) -> None:
        serving.stop(CLEANUP_TIMEOUT)
        self._failures += 1
        delay = backoff(self._failures)
        self._next_restart = now + delay
        self._crash = f"revision {serving.spec.short_revision} {serving.ending(code)}"
        self._log.note(f"{self._crash}; restarting in {delay:g} s")
        log.warning("app %s: %s; restarting in %g s", self.name, self._crash, delay)

    def _restart(self, spec: AppSpec, now: float) -> None:
        try:
            instance = self._launch(spec, now)
        except LAUNCH_ERRORS as exc:
            self._failures += 1
            self._next_restart = now + backoff(self._failures)
            self._crash = f"revision {spec.short_revision} cannot restart: {exc}"
            return
        self._next_restart = None
        self._restarts += 1
        APP_RESTARTS.labels(self.name).inc()
        self._serve(instance)

    def _serve(self, instance: Instance) -> None:
        self._serving = instance
        self._port.switch(instance.port)

    def _reset_crashes(self) -> None:
        self._crash, self._next_restart = None, None
        self._failures, self._restarts = 0, 0

    def _launch(self, spec: AppSpec, now: float) -> Instance:
        running = [i.spec.revision for i in (self._serving, self._candidate) if i is not None]
        account = self._accounts.open(spec, keep=running) if self._accounts else shared(spec)
        port = free_port(self._host) if spec.port is not None else None
        return Instance(spec, account=account, host=self._host, port=port, log=self._log,
                        now=now)  # fmt: skip

    # --- reporting ------------------------------------------------------------------

    def _assess(self, desired: AppSpec) -> tuple[str, str]:
        """The phase and message that describe the facts now."""
        serving, candidate = self._serving, self._candidate
        if self._problem is not None:
            return "Degraded", self._problem.message
        if serving is None:
            return "Progressing", f"starting revision {desired.short_revision}"
        revision = serving.spec.short_revision
        if self._crash is not None:
            return "Degraded", self._crash + self._restart_note()
        if not serving.ready:
            return "Progressing", f"waiting for revision {revision} to become healthy"
        if serving.failed_checks >= FAILED_CHECKS_BEFORE_DEGRADED:
            return "Degraded", f"revision {revision} is failing its health check: {serving.reason}"
        if candidate is not None:
            deploying = candidate.spec.short_revision
            return "Progressing", f"deploying revision {deploying}; serving revision {revision}"
        return "Healthy", f"serving revision {revision}"

    def _restart_note(self) -> str:
        if self._next_restart is not None:
            return f"; restart {self._restarts + 1} pending"
        return f"; restarted {self._restarts} times, waiting for it to become healthy"

    def _live(self) -> Instance | None:
        return self._serving if self._next_restart is None else None
