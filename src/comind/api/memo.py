"""Expensive answers (the metrics exposition, the flow summaries) shared by the requests that
arrive together: a request arriving while a computation runs waits for the next one, which
starts after it arrived, so every answer is at least as fresh as its request while a burst of
clients costs a few computations instead of one each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalesced(Generic[T]):
    def __init__(self, compute: Callable[[], T]) -> None:
        self.compute = compute
        self._cond = threading.Condition()
        self._running = False
        self._started = self._done = 0
        self._value: T | None = None

    def get(self) -> T:
        with self._cond:
            wanted = self._started + 1  # a computation that starts after this request
            while self._done < wanted:
                if self._running:
                    self._cond.wait()
                else:
                    self._run()
            assert self._value is not None
            return self._value

    def _run(self) -> None:
        """One computation, without the lock while it runs (called with it held)."""
        self._running, self._started = True, self._started + 1
        number = self._started
        self._cond.release()
        try:
            value = self.compute()
        finally:
            self._cond.acquire()
            self._running = False
            self._cond.notify_all()
        self._value, self._done = value, number
