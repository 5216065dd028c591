"""The control loop of one environment: follow the source, sync, watch for drift.

Every ``poll_interval`` (and at once when a webhook calls ``trigger``) it fetches the
source; a new revision is synced when auto-sync is on and not paused (a rollback pauses
it, as in Argo CD). Every ``refresh_interval`` it observes the resources of the revision
in place: drift (a resource changed or deleted outside Git) is counted and shown as
OutOfSync, and repaired at once when the environment has ``self_heal`` (with auto-sync).
Errors never stop the loop; they are logged and kept in the environment's state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from comind.gitops import metrics
from comind.gitops.reconcile import Step
from comind.gitops.sync import SyncService

log = logging.getLogger("comind.gitops.controller")
REFRESH_SECONDS = 10.0


class Controller:
    def __init__(
        self,
        service: SyncService,
        *,
        refresh_interval: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self.refresh_interval, self.clock = service, refresh_interval, clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="comind-gitops", daemon=True)
        self._reason = "poll"
        self._heal_failures = 0
        self._next_heal = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():  # a following replica never started it
            self._thread.join(timeout=30)

    def trigger(self, reason: str = "webhook") -> None:
        """Fetch now (a webhook arrived) instead of at the next poll."""
        self._reason = reason
        self._wake.set()

    def _poll_seconds(self) -> float:
        return self.service.policy().poll_interval.total_seconds()

    def _run(self) -> None:
        next_poll = self.clock() + self._poll_seconds()
        while not self._stop.is_set():
            woken = self._wake.wait(timeout=self.refresh_interval)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                if woken or self.clock() >= next_poll:
                    self.poll(self._reason if woken else "poll")
                    self._reason = "poll"
                    next_poll = self.clock() + self._poll_seconds()
                else:
                    self.refresh()
            except Exception as exc:  # the loop must survive engine restarts and bad repos
                log.warning("gitops controller: %s", exc)

    def poll(self, trigger: str) -> None:
        """Sync the source's newest revision when it is new and auto-sync may run."""
        self.service.sync_automatic(trigger=trigger)

    def refresh(self) -> list[Step]:
        """Observe the applied revision's resources; heal drift when the policy says so."""
        current = self.service.current
        if current is None:
            return []
        steps = self.service.plan(current)
        drifted = [s for s in steps if s.action in ("create", "update")]
        self.service.record_statuses(current.revision, steps)
        for step in drifted:
            metrics.DRIFT.labels(step.resource.kind).inc()
        self.service.count_statuses()
        if drifted and self.service.policy().self_heal and self.clock() >= self._next_heal:
            log.info("self-heal: %s", ", ".join(s.resource.id for s in drifted))
            report = self.service.sync_automatic(
                trigger="self-heal", revision=current.revision, only_if_current=current.revision
            )
            if report is not None:
                self._backoff(report.outcome == "Succeeded")
        return drifted

    def _backoff(self, healed: bool) -> None:
        """A repair that does not take (an app that never becomes healthy) is retried after
        10 s, 20 s, ... up to 5 minutes, not on every refresh: history stays readable."""
        self._heal_failures = 0 if healed else self._heal_failures + 1
        delay = 0.0 if healed else min(300.0, 10.0 * 2 ** (self._heal_failures - 1))
        self._next_heal = self.clock() + delay
