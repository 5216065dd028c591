"""Where the CLI finds the platform: the global options (``--server``, ``--token``,
``--ca-cert``, ``--home``) and, on the platform's own machine, its state directory."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from comind.api.tls import client_context
from comind.embedded.home import StateDir
from comind.embedded.lock import holder_pid
from comind.embedded.settings import Settings
from comind.embedded.state import PlatformState
from comind.errors import ComindError
from comind.stores.platform_db import PLATFORM_DB
from comind.stores.postgres import PgTarget
from comind.stores.redis import RedisTarget


@dataclass(frozen=True)
class Globals:
    debug: bool = False
    home: Path | None = None
    server: str | None = None  # a platform's API URL: reached there instead of via --home
    token: str | None = field(default=None, repr=False)
    ca_cert: Path | None = None  # a private CA the server's certificate is checked against


def globals_of(ctx: typer.Context) -> Globals:
    opts = ctx.find_object(Globals)
    return opts if opts is not None else Globals()


def settings_of(ctx: typer.Context, **overrides: Any) -> Settings:
    """Settings from COMIND_* variables, with the global ``--home`` and ``overrides`` applied."""
    opts = globals_of(ctx)
    values = {k: v for k, v in overrides.items() if v is not None}
    if opts.home is not None:
        values["home"] = opts.home
    return Settings(**values)


def home_of(ctx: typer.Context) -> StateDir:
    return StateDir(settings_of(ctx).home)


def running_state(home: StateDir) -> PlatformState:
    """state.json of the running platform, or a one-line error saying how to start it."""
    state = home.read_state()
    if holder_pid(home.lock_file) is None or state is None:
        raise ComindError(f"no platform is running on {home.root}; start it with `comind up`")
    return state


def api_verify(state: PlatformState) -> ssl.SSLContext | bool:
    """How to verify the running platform's API: against its own certificate when it made
    that itself, else as any HTTPS site."""
    if state.tls_self_signed and state.tls_cert:
        return client_context(Path(state.tls_cert))
    return True


def ca_env(state: PlatformState) -> dict[str, str]:
    """What makes an AWS SDK trust the platform's self-signed certificate."""
    return {"AWS_CA_BUNDLE": state.tls_cert} if state.tls_self_signed and state.tls_cert else {}


def platform_redis(home: StateDir, state: PlatformState) -> RedisTarget:
    """The running platform's Redis, as its default (admin) user."""
    host, port = state.address("redis")
    return RedisTarget(host, port, home.secret("redis-password"))


def platform_db(home: StateDir, state: PlatformState) -> PgTarget:
    """The platform database of the running platform, as its superuser."""
    host, port = state.address("postgres")
    return PgTarget(host, port, "postgres", home.secret("postgres-password"), PLATFORM_DB)
