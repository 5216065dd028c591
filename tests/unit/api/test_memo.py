"""Coalesced answers: sequential callers each get a fresh computation; callers arriving
during one share the next; a failure reaches its caller and the next call computes again."""

from __future__ import annotations

import threading
from itertools import count

import pytest
from tests.waiting import wait_until

from comind.api.memo import Coalesced


def test_sequential_callers_each_get_a_new_computation() -> None:
    numbers = count(1)
    shared = Coalesced(lambda: next(numbers))
    assert [shared.get() for _ in range(3)] == [1, 2, 3]


def test_a_burst_shares_the_computation_that_starts_after_it_arrived() -> None:
    started, release, numbers = threading.Event(), threading.Event(), count(1)

    def slow() -> int:
        started.set()
        release.wait(10)
        return next(numbers)

    shared = Coalesced(slow)
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(shared.get()))
    first.start()
    assert started.wait(5)
    burst = [threading.Thread(target=lambda: results.append(shared.get())) for _ in range(10)]
    for thread in burst:
        thread.start()
    assert wait_until(lambda: len(shared._cond._waiters) == 10, timeout=5)  # type: ignore[attr-defined]
    release.set()
    for thread in [first, *burst]:
        thread.join(10)
    assert sorted(results) == [1] + [2] * 10  # two computations for eleven callers


def test_a_failure_reaches_its_caller_and_the_next_call_computes_again() -> None:
    calls = count(1)

    def flaky() -> int:
        if next(calls) == 1:
            raise RuntimeError("engine restarting")
        return 7

    shared = Coalesced(flaky)
    with pytest.raises(RuntimeError, match="engine restarting"):
        shared.get()
    assert shared.get() == 7
