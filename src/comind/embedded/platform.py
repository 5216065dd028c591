"""The embedded platform: the engines of one state directory, started, watched and stopped
(PostgreSQL and Redis may be servers of your own instead: :mod:`comind.embedded.external`).

``start`` takes the state directory's lock first, so a second platform on the same
directory is refused before it touches anything. Engines start in dependency order
(PostgreSQL, Redis, object store) and the supervisor takes over. ``stop`` undoes it
in reverse and leaves no process behind. ``state.json`` always says what is running
and where. What runs on top of the engines (platform schema, event log, API) is
wired by the layers above, which pass ``on_event`` to hear about restarts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time

from comind import __version__
from comind.embedded.engine import Engine
from comind.embedded.external import (
    ExternalPostgres,
    ExternalRedis,
    PostgresServer,
    RedisServer,
)
from comind.embedded.home import StateDir
from comind.embedded.lock import PlatformLock
from comind.embedded.objects import ObjectsEngine
from comind.embedded.postgres import PostgresEngine
from comind.embedded.redis import RedisEngine
from comind.embedded.settings import Settings
from comind.embedded.state import About, EngineStatus, PlatformState
from comind.embedded.supervisor import EngineState, EventSink, Supervisor
from comind.errors import ComindError
from comind.observe.logs import redact

log = logging.getLogger("comind.platform")


class EmbeddedPlatform:
    """PostgreSQL, Redis and the object store of one ``$COMIND_HOME``."""

    def __init__(self, settings: Settings, *, on_event: EventSink | None = None) -> None:
        self.settings = settings
        self.home = StateDir(settings.home)
        self.home.create()
        self.lock = PlatformLock(self.home.lock_file)
        pg_url = self.home.engine_url("postgres", settings.postgres_url)
        redis_url = self.home.engine_url("redis", settings.redis_url)
        self._urls = {"postgres": pg_url, "redis": redis_url}
        self.postgres: PostgresServer = (
            ExternalPostgres(pg_url, self.home, settings) if pg_url
            else PostgresEngine(self.home, settings))  # fmt: skip
        self.redis: RedisServer = (
            ExternalRedis(redis_url, self.home, settings) if redis_url
            else RedisEngine(self.home, settings))  # fmt: skip
        self.objects = ObjectsEngine(self.home)
        self.engines: list[Engine] = [self.postgres, self.redis, self.objects]
        self.on_event = on_event
        self.supervisor = Supervisor(
            self.engines, interval=settings.check_interval, on_event=self._on_event
        )
        self.about: About | None = None  # set by the layers above once the API serves
        self.started_at = 0.0
        redact(self.postgres.password)
        redact(self.redis.password)

    def start(self) -> None:
        """Start every engine and the supervisor; on any failure stop what started."""
        self.lock.acquire()
        started: list[Engine] = []
        try:
            for engine in self.engines:
                log.info("starting %s", engine.name)
                engine.start()
                started.append(engine)
                self.supervisor.mark_started(engine)
        except BaseException:
            for engine in reversed(started):
                with contextlib.suppress(Exception):
                    engine.stop()
            self.lock.release()
            raise
        self.started_at = time.time()
        for name, url in self._urls.items():  # once started on them, never before
            if url:
                self.home.keep_engine_url(name, url)
        self.supervisor.start()
        self._on_event("platform", "started", f"platform {__version__} started")
        self.write_state()

    def add_engine(self, engine: Engine) -> None:
        """Start one more engine (Prometheus beside a running platform) and supervise it;
        it stops with the others."""
        log.info("starting %s", engine.name)
        engine.start()
        self.supervisor.states[engine.name] = EngineState()
        self.engines.append(engine)  # the supervisor watches this same list
        self.supervisor.mark_started(engine)
        self.write_state()

    def stop(self) -> None:
        """Stop the supervisor and every engine, in reverse order."""
        self.supervisor.stop()
        for engine in reversed(self.engines):
            log.info("stopping %s", engine.name)
            try:
                engine.stop()
            except Exception as exc:  # keep stopping the others
                log.error("stopping %s failed: %s", engine.name, exc)
        for state in self.supervisor.states.values():
            state.state = "stopped"
        self.home.write_state(self.status().with_updates(running=False))
        self.lock.release()

    def _on_event(self, source: str, kind: str, message: str) -> None:
        if self.on_event is not None:
            self.on_event(source, kind, message)
        self.write_state()

    def status(self) -> PlatformState:
        """The document behind ``comind status --json`` and ``/api/v1/status``."""
        now = self.supervisor.clock()
        engines = {}
        for engine in self.engines:
            info, state = engine.info(), self.supervisor.states[engine.name]
            engines[engine.name] = EngineStatus(
                state=state.state,
                pid=info.pid,
                address=info.address,
                version=info.version,
                restarts=state.restarts,
                uptime_seconds=round(now - state.started_at, 1) if state.started_at else 0,
                last_error=state.last_error or None,
                **({"tls_ca": str(info.tls_ca)} if info.tls_ca else {}),
            )
        return PlatformState.of(about=self.about, running=True, version=__version__,
                                pid=os.getpid(), home=str(self.home.root),
                                started_at=self.started_at, engines=engines)  # fmt: skip

    def healthy(self) -> bool:
        return all(state.state == "healthy" for state in self.supervisor.states.values())

    def write_state(self) -> None:
        try:
            self.home.write_state(self.status())
        except OSError as exc:
            raise ComindError(f"cannot write {self.home.state_file}: {exc}") from None
