"""Health probes: does one app instance answer?

A probe looks at one *instance*, never at the app's public port: during a rollout the
public port still leads to the old instance, and the new one must prove itself on its
own internal port before traffic moves to it. Every check is bounded by the probe's
``timeout`` and answers ``None`` (healthy) or a one-line reason that never carries an
env value, because reasons end up in states, logs and the dashboard.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from comind.apps.env import scrub
from comind.embedded.osuser import RunAs
from comind.errors import UsageError

REASON_CHARS = 200


@dataclass(frozen=True)
class Probe:
    """The spec's ``health``: exactly one of an http path, a tcp port or a command.

    ``http`` is a path fetched from the instance's own port; ``tcp`` is a port, the
    app's declared port standing for the instance's own; ``command`` runs with the
    shell in the app's directory and environment, ``$PORT`` being the instance's port.
    """

    http: str | None = None
    tcp: int | None = None
    command: str | None = None
    initial_delay: float = 0
    period: float = 10
    timeout: float = 3

    def __post_init__(self) -> None:
        kinds = [kind for kind in (self.http, self.tcp, self.command) if kind is not None]
        if len(kinds) != 1:
            raise UsageError("a health probe needs exactly one of http, tcp or command")


@dataclass(frozen=True)
class Target:
    """Where one instance can be probed; ``env`` is the instance's full environment."""

    host: str
    port: int | None
    public_port: int | None
    cwd: Path
    env: Mapping[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False, default=())
    user: RunAs = field(default_factory=RunAs)  # who a command probe runs as: the app's


def failure(probe: Probe, target: Target) -> str | None:
    """None when ``target`` passes ``probe``, else why it does not."""
    if probe.http is not None:
        return http_failure(probe.http, target, probe.timeout)
    if probe.tcp is not None:
        port = target.port if probe.tcp == target.public_port else probe.tcp
        return tcp_failure(target.host, port, probe.timeout)
    assert probe.command is not None
    return command_failure(probe.command, target, probe.timeout)


def http_failure(path: str, target: Target, timeout: float) -> str | None:
    """GET ``path`` on the instance; 2xx and 3xx pass."""
    conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "comind-probe"})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {path}: {_describe(exc)}"
    finally:
        conn.close()
    return None if 200 <= status < 400 else f"GET {path} returned {status}"


def tcp_failure(host: str, port: int | None, timeout: float) -> str | None:
    """Connect to ``host:port``; an accepted connection passes."""
    try:
        with socket.create_connection((host, port or 0), timeout=timeout):
            return None
    except OSError as exc:
        return f"tcp {host}:{port}: {_describe(exc)}"


def command_failure(command: str, target: Target, timeout: float) -> str | None:
    """Run ``command`` with the shell as the app's user, in its cwd and env; exit status 0
    passes."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=target.cwd,
        env=dict(target.env),
        user=target.user.uid,
        group=target.user.gid,
        extra_groups=target.user.extra_groups,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return f"command timed out after {timeout:g} s"
    if proc.returncode == 0:
        return None
    last = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
    said = scrub(last[0], target.secrets)[:REASON_CHARS]
    return f"command exited with {proc.returncode}" + (f": {said}" if said else "")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
