"""Keeping the embedded engines up.

Every ``interval`` seconds each engine is checked: a dead process, or a live one that
fails its health check three times in a row, is restarted. Restarts back off
(0.5 s, 1 s, 2 s, ... up to 30 s) while an engine keeps failing, and the backoff resets
once it has stayed healthy for a minute. Each state change is logged, counted in
``comind_engine_restarts_total`` / ``comind_engine_up`` and handed to ``on_event``.
The clock and sleep are injected so tests can move time instead of waiting.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from comind.embedded.engine import Engine, EngineError
from comind.observe.metrics import ENGINE_RESTARTS, ENGINE_UP

log = logging.getLogger("comind.supervisor")

FAILED_CHECKS_BEFORE_RESTART = 3
STABLE_AFTER_SECONDS = 60.0
EventSink = Callable[[str, str, str], None]


def backoff(failures: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before restart attempt number ``failures`` (1-based)."""
    return 0.0 if failures <= 0 else min(cap, base * 2 ** (failures - 1))


@dataclass
class EngineState:
    """What the supervisor knows of one engine."""

    state: str = "starting"
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0
    failed_checks: int = 0
    next_attempt: float = 0.0
    last_error: str = ""
    since: float = field(default_factory=time.time)


class Supervisor:
    """Watches engines in a background thread and restarts the ones that die."""

    def __init__(
        self,
        engines: list[Engine],
        *,
        interval: float,
        on_event: EventSink,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engines = engines
        self.interval = interval
        self.on_event = on_event
        self.clock = clock
        self.states = {engine.name: EngineState() for engine in engines}
        # a tick and a maintenance never overlap: a check that began before a switch stopped
        # the engine would otherwise restart it in the middle of the switch
        self._turns = {engine.name: threading.Lock() for engine in engines}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mark_started(self, engine: Engine) -> None:
        state = self.states[engine.name]
        state.state, state.started_at, state.since = "healthy", self.clock(), time.time()
        ENGINE_UP.labels(engine.name).set(1)

    @contextlib.contextmanager
    def holding(self, engine: Engine) -> Iterator[None]:
        """Leave ``engine`` alone while the block stops and starts it (maintenance); it counts
        as started again afterwards."""
        state = self.states[engine.name]
        with self._turns[engine.name]:  # a tick in flight ends first
            state.state, state.since = "maintenance", time.time()
            try:
                yield
            finally:
                if engine.alive():
                    self.mark_started(engine)
                else:
                    state.state, state.next_attempt = "restarting", self.clock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="comind-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for engine in self.engines:
                if self._stop.is_set():
                    return
                try:
                    self.tick(engine)
                except Exception as exc:  # the watch must outlive any one failure
                    log.error("supervising %s failed: %s", engine.name, exc)

    def tick(self, engine: Engine) -> None:
        """One supervision step for ``engine`` (none while it is under maintenance)."""
        if not self._turns[engine.name].acquire(blocking=False):
            return
        try:
            self._tick(engine)
        finally:
            self._turns[engine.name].release()

    def _tick(self, engine: Engine) -> None:
        state = self.states[engine.name]  # never "maintenance": holding keeps the turn
        now = self.clock()
        if state.state == "healthy" and engine.alive() and engine.check():
            state.failed_checks = 0
            if state.failures and now - state.started_at >= STABLE_AFTER_SECONDS:
                state.failures = 0
            return
        if state.state == "healthy" and engine.alive():
            state.failed_checks += 1
            if state.failed_checks < FAILED_CHECKS_BEFORE_RESTART:
                return
        if state.state == "healthy":
            self._went_down(engine, state, now)
        elif engine.alive() and engine.check():
            self._recovered(engine, state)  # it answers again before its restart came due
            return
        if now >= state.next_attempt:
            self._restart(engine, state)

    def _recovered(self, engine: Engine, state: EngineState) -> None:
        """No restart for an engine that answers again (red team 21h: a restart scheduled
        while PostgreSQL's lock table was full came due after the table was freed, and
        dropped every app's connections for nothing)."""
        state.failed_checks = 0
        self.mark_started(engine)
        log.info("%s answers again; its restart is called off", engine.name)
        self.on_event(engine.name, "recovered", f"{engine.name} answers again")

    def _went_down(self, engine: Engine, state: EngineState, now: float) -> None:
        reason = "stopped answering" if engine.alive() else "died"
        state.state, state.since = "restarting", time.time()
        state.failures += 1
        state.next_attempt = now + backoff(state.failures)
        ENGINE_UP.labels(engine.name).set(0)
        log.warning("%s %s; restarting in %.1fs", engine.name, reason, backoff(state.failures))
        self.on_event(engine.name, "down", f"{engine.name} {reason}")

    def _restart(self, engine: Engine, state: EngineState) -> None:
        try:
            engine.stop()
            engine.start()
        except EngineError as exc:
            state.failures += 1
            state.last_error = str(exc)
            state.next_attempt = self.clock() + backoff(state.failures)
            log.error("restarting %s failed: %s", engine.name, exc)
            return
        state.restarts += 1
        state.failed_checks = 0
        ENGINE_RESTARTS.labels(engine.name).inc()
        self.mark_started(engine)
        log.info("%s restarted (pid %s)", engine.name, engine.info().pid)
        self.on_event(engine.name, "restarted", f"{engine.name} restarted")
