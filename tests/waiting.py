"""Waiting for a condition in tests, with a timeout instead of fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

# PostgreSQL stamps commits and reads recovery targets in microseconds: this much either side
# keeps a moment clearly between two writes (a full second either side was only waiting)
MOMENT_GAP = 0.2


def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05
) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def moment_between() -> datetime:
    """Now, clearly after what was written before the call and before what is written after
    it (a point-in-time restore's target between two writes)."""
    time.sleep(MOMENT_GAP)
    now = datetime.now(UTC)
    time.sleep(MOMENT_GAP)
    return now
