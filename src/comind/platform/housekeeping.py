"""Housekeeping: periodic tasks of the running platform, each run on its own.

A task that fails (the database restarting, a database gone back to an earlier point) is
logged and tried again at its next round; it never holds up another task.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("comind.housekeeping")


@dataclass
class Periodic:
    """One housekeeping task, run every ``every`` seconds; its failures are logged, never
    passed on."""

    name: str
    every: float
    work: Callable[[], object]
    last: float = float("-inf")

    def run_if_due(self, now: float) -> None:
        if now - self.last < self.every:
            return
        self.last = now
        try:
            self.work()
        except Exception as exc:  # the database may be restarting: next round
            log.warning("%s failed: %s", self.name, exc)


def run_periodic(tasks: list[Periodic], stop: threading.Event, tick: float) -> None:
    """Run each task when it is due, every ``tick`` seconds, until ``stop`` is set."""
    while not stop.wait(tick):
        now = time.monotonic()
        for task in tasks:
            task.run_if_due(now)
