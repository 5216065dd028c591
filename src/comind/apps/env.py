"""The environment an app process gets, how its command is started, and keeping its values
out of every text we write.

Apps start from a clean base (``PATH``, ``LANG``, and ``HOME``: the app's own directory,
else the platform's), never from the platform's own environment, so nothing of the platform
(its settings, its credentials) leaks into an app and an app behaves the same whoever
started the platform. The directory of the platform's
own Python leads ``PATH``, so ``python`` in a ``run`` command exists wherever the platform
runs (a bare Debian has only ``python3``). The declared env holds secrets:
any text the runtime derives from app output passes through :func:`scrub` first.

A command is killed with the thread that started it (:func:`leashed`): a platform killed
with SIGKILL, whose apps and flow workers nothing stops any more, leaves none of them running
(a replica takes over, issue 19; the next start finds their ports free).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

INHERITED = ("PATH", "HOME", "LANG")
DEFAULTS = {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
SHORTEST_SECRET = 6


def leashed(command: str) -> list[str]:
    """The argv running ``command`` under ``/bin/sh`` in a leash (apps/leash.py): its whole
    process group is killed when the thread that starts it ends. The supervisor's thread
    outlives its processes: it stops them before it ends."""
    return [sys.executable, "-m", "comind.apps.leash", command]


def environment(
    cwd: Path,
    declared: Mapping[str, str],
    port: int | None,
    *,
    home: Path | None = None,
    replaced: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
) -> dict[str, str]:
    """Base (``HOME`` = ``home`` when given) + ``declared`` with ``replaced`` values +
    ``PYTHONPATH`` led by ``cwd`` + ``PORT`` and ``HOST`` (where the instance listens: the
    platform probes it and sends it requests there)."""
    base = {**DEFAULTS, **{key: os.environ[key] for key in INHERITED if key in os.environ}}
    base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base["PATH"]])
    if home is not None:
        base["HOME"] = str(home)
    env = {**base, **declared, **(replaced or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), declared.get("PYTHONPATH")]))
    if port is not None:
        env["PORT"], env["HOST"] = str(port), host
    return env


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every value long enough to be a secret replaced by ``***``."""
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= SHORTEST_SECRET:
            text = text.replace(value, "***")
    return text
