"""One-shot processes of an app's account: an operator's flow job runs app code, so it runs
where the flow's workers run (its OS user, its copy of the code, its environment), and the
platform reads back only its answer on standard output (bounded), never its memory. What it
prints on standard error goes to its log (rotated like an app's) and the last lines, secrets
scrubbed, into the outcome."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from typing import IO

from comind.apps.accounts import AppAccounts, shared
from comind.apps.env import environment, leashed, scrub
from comind.apps.logs import AppLog
from comind.apps.model import AppSpec

MAX_ANSWER = 8 << 20  # bytes of standard output read back
LINE_LIMIT = 64 * 1024  # bytes of one line of its log
TAIL_LINES = 20


@dataclass(frozen=True)
class JobOutcome:
    code: int  # the exit status (negative: a signal; the timeout kills)
    answer: bytes  # standard output, at most MAX_ANSWER bytes
    tail: str  # the last lines of its standard error, secrets scrubbed


def run_once(
    accounts: AppAccounts | None, spec: AppSpec, given: bytes, log: AppLog, timeout: float
) -> JobOutcome:
    """Run ``spec.command`` once in its account, ``given`` on its standard input."""
    account = accounts.open(spec, keep=None) if accounts else shared(spec)
    env = environment(account.code, spec.env, None, home=account.home, replaced=account.env)
    user, tail = account.user, deque[str](maxlen=TAIL_LINES)
    proc = subprocess.Popen(leashed(spec.command), cwd=account.code, env=env,
                            user=user.uid, group=user.gid, extra_groups=user.extra_groups,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    helpers = [threading.Thread(target=_feed, args=(proc.stdin, given), daemon=True),
               threading.Thread(target=_copy, args=(proc.stderr, log, tail, spec),
                                daemon=True)]  # fmt: skip
    for helper in helpers:  # neither side waits on a full pipe
        helper.start()
    timer = threading.Timer(timeout, _kill, (proc,))
    timer.start()
    try:
        answer = proc.stdout.read(MAX_ANSWER)
        if proc.stdout.read(1):  # more than it may say: it says nothing
            _kill(proc)
        code = proc.wait()
    finally:
        timer.cancel()
        _kill(proc)  # and whatever it started in its session
        proc.stdout.close()
    helpers[1].join(timeout=5)
    return JobOutcome(code, answer, "\n".join(tail))


def _feed(pipe: IO[bytes], given: bytes) -> None:
    with contextlib.suppress(OSError), pipe:  # it may end without reading it all
        pipe.write(given)


def _copy(stream: IO[bytes], log: AppLog, tail: deque[str], spec: AppSpec) -> None:
    with stream:
        while line := stream.readline(LINE_LIMIT):
            text = scrub(line.decode(errors="replace"), spec.env.values())
            log.write(text.encode())
            if text.strip():
                tail.append(text.strip())


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
