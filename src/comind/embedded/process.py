"""Launching and stopping one engine process.

Engines run in their own session so a Ctrl-C in the terminal reaches only the
platform, which then stops them in order. Output goes to a log file in the state
directory; on a failed start the last lines of that log become the error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from comind.embedded.osuser import RunAs

PRIVATE = 0o077  # an engine's files (Redis' AOF and RDB, PostgreSQL's logs) are its own
PASSED_ON = ("PATH", "TZ", "TMPDIR", "LD_LIBRARY_PATH")
EXIT_POLL = 0.05  # seconds between checks of a stopping process


def engine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an engine or engine tool: only what running it needs, plus
    ``extra``. Never the platform's own: it holds passphrases and tokens
    (``COMIND_KEK_PASSPHRASE``...), and a database superuser can read a server's
    environment (``pg_read_file`` of ``/proc/PID/environ``)."""
    env = {key: os.environ[key] for key in PASSED_ON if key in os.environ}
    return {**env, "LC_ALL": "C", **(extra or {})}


def launch(argv: Sequence[str], *, log: Path, run_as: RunAs, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from the terminal, appending its output to ``log`` (0600);
    whatever it creates is private to its user, whatever the caller's umask."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=run_as.extra_groups,
            umask=PRIVATE,
            start_new_session=True,
            env=engine_env(),
        )


def log_tail(log: Path, lines: int = 5) -> str:
    """The last meaningful lines of an engine log, joined for a one-line error."""
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    fatal = [line for line in text if "FATAL" in line or "# " in line or "ERROR" in line]
    return " | ".join((fatal or text)[-lines:]).strip() or "(empty log)"


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` is a live process (zombies count as dead)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def owned_by(pid: int, directory: Path) -> bool:
    """True when process ``pid`` runs in ``directory`` or names it on its command line."""
    try:
        proc = psutil.Process(pid)
        return str(directory) in " ".join(proc.cmdline()) or proc.cwd().startswith(str(directory))
    except psutil.Error:
        return False


def terminate(pid: int, *, sig: signal.Signals, timeout: float) -> None:
    """Send ``sig``, wait up to ``timeout`` s, then SIGKILL the process and its children."""
    try:
        proc = psutil.Process(pid)
        children = proc.children(recursive=True)
        proc.send_signal(sig)
        _wait_exit(proc, timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        for victim in [proc, *children]:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.kill()
        psutil.wait_procs([proc, *children], timeout=5)


def _wait_exit(proc: psutil.Process, timeout: float) -> None:
    """Return once ``proc`` has exited (reaped when it is our child); ``psutil.TimeoutExpired``
    after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(EXIT_POLL)  # reaps a child of ours; returns once another's is gone
            return
        except psutil.TimeoutExpired:
            if _exited(proc):
                return
            if time.monotonic() >= deadline:
                raise


def _exited(proc: psutil.Process) -> bool:
    """A process of another parent has exited once it is a zombie: when that parent (init,
    for a detached platform) reaps it is not for us to wait on."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
