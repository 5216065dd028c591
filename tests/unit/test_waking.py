"""A Stop ends what waits on it at once: a select() on its descriptor, a wake-up registered
with ``waking``; and it is never cleared."""

from __future__ import annotations

import select
import threading

import pytest

from comind.stores.waking import Stop, stopped, woken_by


def test_a_stop_turns_its_descriptor_readable_once_set() -> None:
    stop = Stop()
    assert select.select([stop], [], [], 0)[0] == []
    threading.Timer(0.05, stop.set).start()
    assert select.select([stop], [], [], 5)[0] == [stop]
    stop.set()  # again: nothing more is written, nothing fails
    assert stopped(stop) and not stopped(None)


def test_a_descriptor_asked_for_after_the_stop_is_readable_at_once() -> None:
    stop = Stop()
    stop.set()
    assert select.select([stop], [], [], 0)[0] == [stop]


def test_a_stop_wakes_what_registered_while_it_waits_and_nothing_after() -> None:
    stop, woken = Stop(), threading.Event()
    with stop.waking(woken.set):
        threading.Timer(0.05, stop.set).start()
        assert woken.wait(5)
    late: list[str] = []
    with stop.waking(lambda: late.append("at once")):  # already set: woken on registering
        pass
    assert late == ["at once"]


def test_a_plain_event_registers_nothing_and_a_stop_is_never_cleared() -> None:
    with woken_by(threading.Event(), lambda: pytest.fail("a plain event wakes nobody")):
        pass
    with pytest.raises(TypeError):
        Stop().clear()
