"""User code in flows: ``module:function`` from the platform repo at the synced revision,
run with a per-record time limit.

The limit uses SIGALRM, which interrupts Python code that hangs (a loop, a sleep, a blocking
socket read) in the worker's main thread; a worker runs its flow in the main thread, so every
user step is bounded. Off the main thread (tests, the CLI's thread pool) no alarm can be set
and the step runs unbounded.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from comind.errors import ComindError


class StepTimeout(Exception):
    """A user step ran past the flow's step timeout."""


def load_callable(ref: str, root: Path) -> Callable[..., Any]:
    """``module:function`` importable from ``root`` (the repo checkout)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ComindError(f"expected module:function, got '{ref}'")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything while importing
        raise ComindError(f"cannot import {module_name} from {root}: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ComindError(f"{module_name} has no function {attr}")
    return fn  # type: ignore[no-any-return]


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`StepTimeout` in the block once ``seconds`` pass (main thread only)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise StepTimeout(f"step timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    outer, _ = signal.getitimer(signal.ITIMER_REAL)  # someone else's alarm (a test timeout)
    began = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # give the outer alarm back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - began), 0.001))
