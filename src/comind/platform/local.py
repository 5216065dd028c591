"""The platform of this machine as the CLI finds it: its settings (``COMIND_*``), its state
directory, and the state the running platform reports there (state.json).

This is what a command needs before it can call the API (where it listens, how to verify
its certificate) and what the commands that work on the machine itself start from, stopping
the platform included (``comind down`` loads nothing of the platform it stops).
"""

from __future__ import annotations

import os
import signal
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from comind.api.tls import client_context
from comind.embedded.home import StateDir
from comind.embedded.lock import holder_pid
from comind.embedded.process import owned_by, pid_alive, terminate
from comind.embedded.settings import Settings
from comind.embedded.state import PlatformState
from comind.errors import ComindError

if TYPE_CHECKING:  # the drivers load only for the few commands that use them
    from comind.stores.postgres import PgTarget
    from comind.stores.redis import RedisTarget

__all__ = ["PlatformState", "Settings", "StateDir", "api_verify", "lock_holder", "platform_db",
           "platform_redis", "reap_orphans", "running_state", "stop"]  # fmt: skip


def lock_holder(home: StateDir) -> int | None:
    """The pid of the platform running on ``home`` (0: alive, pid unknown), or None."""
    return holder_pid(home.lock_file)


def running_state(home: StateDir) -> PlatformState:
    """state.json of the running platform, or a one-line error saying how to start it."""
    state = home.read_state()
    if lock_holder(home) is None or state is None:
        raise ComindError(f"no platform is running on {home.root}; start it with `comind up`")
    return state


def stop(home: StateDir) -> int | None:
    """Stop the platform of ``home`` and every engine it left behind; its pid, if it ran."""
    pid = holder_pid(home.lock_file)
    if pid is not None and pid > 0 and pid != os.getpid():
        terminate(pid, sig=signal.SIGTERM, timeout=60)
    reap_orphans(home)
    return pid


def reap_orphans(home: StateDir) -> None:
    """Stop engine processes a killed platform left behind (pids from state.json)."""
    st = home.read_state()
    for info in st.engines.values() if st else []:
        pid = info.pid
        if pid and pid_alive(pid) and owned_by(pid, home.root):
            terminate(pid, sig=signal.SIGINT, timeout=30)


def api_verify(state: PlatformState) -> ssl.SSLContext | bool:
    """How to verify the running platform's API: against its own certificate when it made
    that itself, else as any HTTPS site."""
    if state.tls_self_signed and state.tls_cert:
        return client_context(Path(state.tls_cert))
    return True


def platform_db(home: StateDir, state: PlatformState, settings: Settings | None = None) -> PgTarget:
    """The running platform's own database, as its superuser (restores, benchmarks; never
    flow workers, which run app code: platform/worker.py); on the PostgreSQL that
    its state directory names when it runs on one of yours."""
    from comind.embedded.external import ExternalPostgres
    from comind.stores.platform_db import PLATFORM_DB
    from comind.stores.postgres import PgTarget, superuser

    url = home.engine_url("postgres", settings.postgres_url if settings else None)
    if url:
        return superuser(ExternalPostgres(url, home, settings or Settings()), PLATFORM_DB)
    host, port = state.address("postgres")
    return PgTarget(host, port, "postgres", home.secret("postgres-password"), PLATFORM_DB)


def platform_redis(
    home: StateDir, state: PlatformState, settings: Settings | None = None
) -> RedisTarget:
    """The running platform's Redis, as its default user (benchmarks; never flow workers,
    which log in as their flow's own user: platform/worker.py), or an external one's admin."""
    from comind.embedded.external import ExternalRedis
    from comind.stores.redis import RedisTarget, default_user

    url = home.engine_url("redis", settings.redis_url if settings else None)
    if url:
        return default_user(ExternalRedis(url, home, settings or Settings()))
    host, port = state.address("redis")
    return RedisTarget(host, port, home.secret("redis-password"), ca=state.engine_ca("redis"))
