"""Stopping what waits, at once: a LISTEN connection's wait for notifications and a long
poll's wait for a send both end the moment their ``Stop`` is set.

A ``Stop`` is a ``threading.Event`` that ``select()`` can also wait on (its ``fileno`` turns
readable once it is set) and that calls the wake-ups registered with ``waking`` when set, so a
thread blocked on some other event returns too. Without it such threads only noticed a stop
at their next idle wake-up (a second later), and a platform's or a worker's stop waited for
each of them. Setting a ``Stop`` takes locks: never set one in a signal handler (the
interrupted thread may hold them); set it from a thread (``flows.worker`` does).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

Wake = Callable[[], None]


class Stop(threading.Event):
    """A stop flag, set once and never cleared."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wakes: list[Wake] = []
        self._pipe: tuple[int, int] | None = None  # made on the first fileno(): most never are

    def set(self) -> None:
        with self._lock:
            if self.is_set():
                return
            super().set()
            wakes = list(self._wakes)
            if self._pipe is not None:
                _signal(self._pipe[1])
        for wake in wakes:
            wake()

    def clear(self) -> None:
        raise TypeError("a Stop is never cleared: make a new one")

    def fileno(self) -> int:
        """A descriptor that is readable once the stop is set (for select)."""
        with self._lock:
            if self._pipe is None:
                self._pipe = os.pipe()
                weakref.finalize(self, _close, *self._pipe)
                if self.is_set():
                    _signal(self._pipe[1])
            return self._pipe[0]

    @contextlib.contextmanager
    def waking(self, wake: Wake) -> Iterator[None]:
        """Call ``wake`` when the stop is set during the block (at once if it already is)."""
        with self._lock:
            self._wakes.append(wake)
        try:
            if self.is_set():
                wake()
            yield
        finally:
            with self._lock:
                self._wakes.remove(wake)


def woken_by(stop: threading.Event | None, wake: Wake) -> contextlib.AbstractContextManager[Any]:
    """``stop.waking(wake)`` for a ``Stop``; nothing for a plain event, which callers check
    at their next idle wake-up instead."""
    return stop.waking(wake) if isinstance(stop, Stop) else contextlib.nullcontext()


def stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def notifications(
    conn: psycopg.Connection[Any], *, timeout: float, stop: threading.Event
) -> list[psycopg.Notify]:
    """What the LISTENing ``conn`` received: those already in (during its last statement
    too) at once, else those of the next ``timeout`` seconds; none as soon as ``stop`` is set
    when it is a ``Stop`` (a plain event is checked by the caller after the timeout)."""
    got = list(conn.notifies(timeout=0))
    if got or stop.is_set():
        return got
    if not isinstance(stop, Stop):
        return list(conn.notifies(timeout=timeout, stop_after=1))
    select.select([conn.fileno(), stop.fileno()], [], [], timeout)
    return [] if stop.is_set() else list(conn.notifies(timeout=0))


def _signal(fd: int) -> None:
    os.write(fd, b".")  # one byte, once (a Stop is set once): the pipe never fills


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)
