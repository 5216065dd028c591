"""One process of one revision of one app, from launch to the last child reaped.

The command runs under ``/bin/sh -c``, as the user of its :class:`Account` (the app's own
OS user where the platform can, see :mod:`comind.apps.accounts`), in a session of its own,
so the whole process tree
(the shell, the app, anything it forks) is one process group the runtime can signal at
once, and a Ctrl-C in the platform's terminal never reaches an app directly. Output is
read through a pipe by a thread that stamps each line into the app's log and keeps the
last few lines for error messages. ``stop`` escalates from SIGTERM to SIGKILL and
returns only when no member of the tree is alive, so a stopped instance never lingers.

Health is tracked here too: an instance is *ready* once its probe first passes
(checked every 0.5 s after ``initial_delay``), or, without a probe, once it has run
for one second; after that the probe runs every ``period`` and ``failed_checks``
counts consecutive failures.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

import psutil

from comind.apps.accounts import Account
from comind.apps.env import scrub
from comind.apps.logs import AppLog
from comind.apps.model import AppSpec
from comind.apps.probes import Target, failure
from comind.embedded.process import pid_alive

STARTUP_CHECK_INTERVAL = 0.5
READY_WITHOUT_PROBE = 1.0
KILL_TIMEOUT = 5.0
TAIL_LINES = 5
LINE_LIMIT = 64 * 1024


class Instance:
    """A launched process of ``spec`` listening (if the app has a port) on ``port``."""

    def __init__(
        self,
        spec: AppSpec,
        *,
        account: Account,
        host: str,
        port: int | None,
        log: AppLog,
        now: float,
    ) -> None:
        self.spec = spec
        self.port = port
        self.started = now
        self.started_at = datetime.now(UTC)
        self.ready_since: float | None = None
        self.failed_checks = 0
        self.reason = "not checked yet"
        self._log = log
        self._stopped = False
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._next_check = now + (spec.probe.initial_delay if spec.probe else READY_WITHOUT_PROBE)
        env = account.environment(spec.env, port, host)
        secrets = tuple(spec.env.values())
        self._target = Target(host, port, spec.port, account.code, env, secrets, account.user)
        self._proc = account.start(spec.command, env, stdin=subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        assert self._proc.stdout is not None
        self._pump = threading.Thread(
            target=self._copy_output, args=(self._proc.stdout,), daemon=True
        )
        self._pump.start()
        log.note(f"revision {spec.short_revision} started: pid {self.pid}" + self._on_port())

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def ready(self) -> bool:
        return self.ready_since is not None

    def exit_code(self) -> int | None:
        """The shell's exit status once it has exited (negative: killed by that signal)."""
        return self._proc.poll()

    def ending(self, code: int) -> str:
        """How the instance ended with ``code``, and its last output (env values scrubbed)."""
        how = (
            f"exited with code {code}"
            if code >= 0
            else f"was killed by {signal.Signals(-code).name}"
        )
        last = scrub(self._tail[-1], self._target.secrets) if self._tail else ""
        return f"{how} (last output: {last})" if last else how

    def check(self, now: float) -> None:
        """Probe the instance if a check is due, updating ``ready_since`` and the counters."""
        if now < self._next_check:
            return
        probe = self.spec.probe
        if probe is None:
            self._passed(now)
            return
        reason = failure(probe, self._target)
        self._next_check = now + (probe.period if self.ready else STARTUP_CHECK_INTERVAL)
        if reason is None:
            self._passed(now)
        else:
            self.failed_checks += 1
            self.reason = reason

    def stop(self, timeout: float) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``timeout``, reap all."""
        if self._stopped:
            return
        self._stopped = True
        members = self._members()
        if self.exit_code() is None:
            self._log.note(f"stopping revision {self.spec.short_revision} (pid {self.pid})")
        self._signal(signal.SIGTERM, members)
        if not _gone(members, timeout):
            self._signal(signal.SIGKILL, members)
            for member in members:
                with contextlib.suppress(psutil.Error):
                    member.kill()
            _gone(members, KILL_TIMEOUT)
        self._proc.wait()
        self._pump.join(KILL_TIMEOUT)

    def _passed(self, now: float) -> None:
        if self.ready_since is None:
            self.ready_since = now
            self._next_check = now + (self.spec.probe.period if self.spec.probe else 0)
        self.failed_checks = 0
        self.reason = ""

    def _on_port(self) -> str:
        return f", port {self.port}" if self.port is not None else ""

    def _members(self) -> list[psutil.Process]:
        """The process group, plus the leader's descendants that left it (while not reaped)."""
        found = {proc.pid: proc for proc in _group(self.pid)}
        if self._proc.returncode is None:
            with contextlib.suppress(psutil.Error):
                leader = psutil.Process(self.pid)
                found.update((proc.pid, proc) for proc in [leader, *leader.children(True)])
        return list(found.values())

    def _signal(self, sig: signal.Signals, members: list[psutil.Process]) -> None:
        if members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    def _copy_output(self, stream: IO[bytes]) -> None:
        with stream:
            while line := stream.readline(LINE_LIMIT):
                self._log.write(line)
                if text := line.decode(errors="replace").strip():
                    self._tail.append(text)


def _group(pgid: int) -> Iterator[psutil.Process]:
    """The live processes of process group ``pgid``."""
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(proc.pid) == pgid and pid_alive(proc.pid):
                yield proc


def _gone(members: list[psutil.Process], timeout: float) -> bool:
    """Wait until no process of ``members`` is alive (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(member.pid) for member in members):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
