"""Retry delays: exponential backoff with full jitter between half and all of a capped
ceiling, or a fixed delay."""

from __future__ import annotations

import random

import pytest

from comind.flows.retry import BASE_SECONDS, CAP_SECONDS, backoff


def ceiling(attempt: int) -> float:
    return min(CAP_SECONDS, BASE_SECONDS * 2**attempt)


@pytest.mark.parametrize("attempt", range(1, 16))
def test_exponential_stays_within_half_and_all_of_the_ceiling(attempt: int) -> None:
    rng = random.Random(attempt)
    waits = [backoff(attempt, rng=rng) for _ in range(200)]
    assert all(ceiling(attempt) / 2 <= w <= ceiling(attempt) for w in waits)
    assert max(waits) <= CAP_SECONDS


def test_exponential_grows_then_is_capped() -> None:
    assert backoff(1, rng=random.Random(0)) <= 2 * BASE_SECONDS
    lows = [min(backoff(a, rng=random.Random(s)) for s in range(50)) for a in range(1, 8)]
    assert lows == sorted(lows)
    assert lows[-1] > 2 * lows[0]
    capped = [backoff(a, rng=random.Random(a)) for a in range(7, 40)]
    assert all(CAP_SECONDS / 2 <= w <= CAP_SECONDS for w in capped)


def test_the_same_seed_gives_the_same_waits() -> None:
    first = [backoff(a, rng=random.Random(42)) for a in range(1, 10)]
    second = [backoff(a, rng=random.Random(42)) for a in range(1, 10)]
    assert first == second
    rng_a, rng_b = random.Random(1), random.Random(2)
    assert [backoff(3, rng=rng_a) for _ in range(5)] != [backoff(3, rng=rng_b) for _ in range(5)]


def test_jitter_spreads_the_waits() -> None:
    rng = random.Random(7)
    assert len({backoff(5, rng=rng) for _ in range(20)}) == 20


@pytest.mark.parametrize("attempt", [1, 2, 10, 100])
def test_fixed_is_constant_and_draws_no_random_number(attempt: int) -> None:
    rng = random.Random(3)
    state = rng.getstate()
    assert backoff(attempt, "fixed", rng=rng) == BASE_SECONDS * 4
    assert rng.getstate() == state


def test_without_an_rng_the_module_random_is_used_within_bounds() -> None:
    assert ceiling(4) / 2 <= backoff(4) <= ceiling(4)


def test_a_huge_attempt_number_is_capped_not_an_error() -> None:
    assert CAP_SECONDS / 2 <= backoff(1024, rng=random.Random(0)) <= CAP_SECONDS
