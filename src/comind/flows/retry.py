"""Retry delays: exponential backoff with full jitter (or a fixed delay), capped."""

from __future__ import annotations

import random

BASE_SECONDS = 0.05
CAP_SECONDS = 5.0


def backoff(attempt: int, kind: str = "exponential", *, rng: random.Random | None = None) -> float:
    """The wait before retry number ``attempt`` (1-based)."""
    if kind == "fixed":
        return BASE_SECONDS * 4
    ceiling = min(CAP_SECONDS, BASE_SECONDS * 2 ** min(attempt, 16))
    return (rng or random).uniform(ceiling / 2, ceiling)
