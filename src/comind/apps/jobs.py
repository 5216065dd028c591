"""One-shot processes of an app's account: an operator's flow job runs app code, so it runs
where the flow's workers run (its OS user, its copy of the code, its environment), and the
platform reads back only its answer on standard output (bounded), never its memory. What it
prints on standard error goes to its log (rotated like an app's) and the last lines, secrets
scrubbed, into the outcome."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from typing import IO

import psutil

from comind.apps.accounts import AppAccounts, shared
from comind.apps.env import scrub
from comind.apps.logs import AppLog
from comind.apps.metrics import STRAYS_KILLED
from comind.apps.model import AppSpec

log = logging.getLogger(__name__)

MAX_ANSWER = 8 << 20  # bytes of standard output read back
LINE_LIMIT = 64 * 1024  # bytes of one line of its log
TAIL_LINES = 20
STRAY_SCANS = 20  # a fork bomb outruns any bound; the account's next end scans again


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
    user, tail = account.user, deque[str](maxlen=TAIL_LINES)
    proc = account.start(spec.command, account.environment(spec.env),
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    said: list[bytes] = []
    helpers = [threading.Thread(target=_feed, args=(proc.stdin, given), daemon=True),
               threading.Thread(target=_copy, args=(proc.stderr, log, tail, spec), daemon=True),
               threading.Thread(target=_answer, args=(proc, said), daemon=True)]  # fmt: skip
    for helper in helpers:  # neither side waits on a full pipe
        helper.start()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        code = proc.wait()
    finally:
        # whatever it started, in its session or out of it (a daemon holding its pipes open
        # would keep the answer from ending): then the pipes end
        _kill(proc)
        if user.uid is not None:
            kill_strays(spec.account_name, user.uid)
    for helper in helpers[1:]:  # each closes its pipe; one still held is left to its thread
        helper.join(timeout=5)
    return JobOutcome(code, b"".join(said[:1]), "\n".join(tail))


def _answer(proc: subprocess.Popen[bytes], said: list[bytes]) -> None:
    """Its standard output: at most MAX_ANSWER bytes, else nothing (more than it may say)."""
    assert proc.stdout is not None
    with contextlib.suppress(ValueError, OSError), proc.stdout:
        answer = proc.stdout.read(MAX_ANSWER)
        if proc.stdout.read(1):
            _kill(proc)
            answer = b""
        said.append(answer)


def kill_strays(account: str, uid: int) -> int:
    """SIGKILL every process of ``uid`` that does not descend from this process; how many.
    Scans until one finds none: a process forked while a scan ran is not in it."""
    killed = 0
    for _ in range(STRAY_SCANS):
        found = _kill_scan(uid)
        killed += found
        if not found:
            break
    if killed:
        STRAYS_KILLED.labels(account).inc(killed)
        log.warning("account %s: killed %d process(es) it left running", account, killed)
    return killed


def _kill_scan(uid: int) -> int:
    mine, killed = os.getpid(), 0
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"].real != uid or mine in (p.pid for p in proc.parents()):
                continue
            proc.kill()
            killed += 1
        except psutil.Error:  # gone meanwhile, or not ours to see
            continue
    return killed


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
