"""Where the CLI finds the platform: the global options (``--server``, ``--token``,
``--ca-cert``, ``--home``) and, on the platform's own machine, its state directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from comind.platform.local import Settings, StateDir


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
