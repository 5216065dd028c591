"""One-shot processes of an app's account: an operator's flow job runs app code, so it runs
where the flow's workers run (its OS user, its copy of the code, its environment), and the
platform reads back only its answer on standard output (bounded), never its memory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from comind.apps.accounts import AppAccounts, shared
from comind.apps.env import environment, scrub
from comind.apps.model import AppSpec

MAX_ANSWER = 8 << 20  # bytes of standard output read back
TAIL = 4096  # bytes of the log an error quotes


@dataclass(frozen=True)
class JobOutcome:
    code: int  # the exit status (negative: a signal; the timeout kills)
    answer: bytes  # standard output, at most MAX_ANSWER bytes
    tail: str  # the end of its standard error, secrets scrubbed


def run_once(
    accounts: AppAccounts | None, spec: AppSpec, given: bytes, log: Path, timeout: float
) -> JobOutcome:
    """Run ``spec.command`` once in its account, ``given`` on its standard input; its
    standard error is appended to ``log``."""
    account = accounts.open(spec, keep=None) if accounts else shared(spec)
    env = environment(account.code, spec.env, None, home=account.home, replaced=account.env)
    user = account.user
    with log.open("ab") as err:
        start = err.tell()
        proc = subprocess.Popen(["/bin/sh", "-c", spec.command], cwd=account.code, env=env,
                                user=user.uid, group=user.gid, extra_groups=user.extra_groups,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)  # fmt: skip
        timer = threading.Timer(timeout, _kill, (proc,))
        timer.start()
        assert proc.stdout is not None and proc.stdin is not None
        feed = threading.Thread(target=_feed, args=(proc.stdin, given), daemon=True)
        feed.start()  # while its answer is read: neither side waits on a full pipe
        try:
            answer = proc.stdout.read(MAX_ANSWER)
            if proc.stdout.read(1):  # more than it may say: it says nothing
                _kill(proc)
            code = proc.wait()
        finally:
            timer.cancel()
            _kill(proc)  # and whatever it started in its session
            proc.stdout.close()
    return JobOutcome(code, answer, scrub(_tail(log, start), spec.env.values()))


def _feed(pipe: IO[bytes], given: bytes) -> None:
    with contextlib.suppress(OSError), pipe:  # it may end without reading it all
        pipe.write(given)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(log: Path, start: int) -> str:
    with log.open("rb") as f:
        f.seek(max(start, log.stat().st_size - TAIL))
        return f.read().decode(errors="replace")
