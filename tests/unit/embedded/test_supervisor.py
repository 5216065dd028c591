"""The supervisor's decisions, driven by a scripted engine and a clock the test moves.

The engine here is a scripted stand-in for the supervisor's decision logic only; real
engines are killed and healed in tests/integration/test_supervision.py.
"""

from __future__ import annotations

import threading

from tests.waiting import wait_until

from comind.embedded.engine import Engine, EngineError, EngineInfo
from comind.embedded.supervisor import Supervisor, backoff


class Scripted(Engine):
    name = "scripted"

    def __init__(self) -> None:
        self.running = True
        self.answers = True
        self.fail_starts = 0
        self.starts = 0

    def start(self) -> None:
        if self.fail_starts:
            self.fail_starts -= 1
            raise EngineError("port taken")
        self.starts += 1
        self.running = self.answers = True

    def stop(self) -> None:
        self.running = False

    def alive(self) -> bool:
        return self.running

    def check(self) -> bool:
        return self.running and self.answers

    def info(self) -> EngineInfo:
        return EngineInfo(pid=1, address="here", version="1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[Supervisor, Scripted, Clock, list[tuple[str, str, str]]]:
    engine, clock, events = Scripted(), Clock(), []
    sup = Supervisor([engine], interval=1, on_event=lambda *e: events.append(e), clock=clock)
    sup.mark_started(engine)
    return sup, engine, clock, events


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n) for n in range(0, 9)] == [0, 0.5, 1, 2, 4, 8, 16, 30, 30]


def test_a_dead_engine_is_restarted_after_its_backoff() -> None:
    sup, engine, clock, events = make()
    engine.running = False
    sup.tick(engine)
    assert sup.states["scripted"].state == "restarting"
    assert engine.starts == 0  # waits 0.5 s first
    clock.now += 0.5
    sup.tick(engine)
    assert engine.starts == 1
    assert sup.states["scripted"].state == "healthy"
    assert sup.states["scripted"].restarts == 1
    assert [e[1] for e in events] == ["down", "restarted"]


def test_a_hung_engine_is_restarted_after_three_failed_checks() -> None:
    sup, engine, _, _ = make()
    engine.answers = False
    sup.tick(engine)
    sup.tick(engine)
    assert sup.states["scripted"].state == "healthy"
    sup.tick(engine)
    assert sup.states["scripted"].state == "restarting"


def test_an_engine_answering_again_before_its_restart_is_not_restarted() -> None:
    sup, engine, clock, events = make()
    engine.answers = False
    for _ in range(3):
        sup.tick(engine)
    assert sup.states["scripted"].state == "restarting"
    engine.answers = True  # the overload passed before the backoff ran out
    clock.now += 60
    sup.tick(engine)
    assert (sup.states["scripted"].state, engine.starts) == ("healthy", 0)
    assert events[-1] == ("scripted", "recovered", "scripted answers again")


def test_failed_restarts_back_off_and_record_the_error() -> None:
    sup, engine, clock, _ = make()
    engine.running = False
    engine.fail_starts = 2
    sup.tick(engine)
    clock.now += 0.5
    sup.tick(engine)  # fails: next attempt in 1 s
    state = sup.states["scripted"]
    assert state.last_error == "port taken"
    clock.now += 0.9
    sup.tick(engine)
    assert engine.fail_starts == 1  # too early, not tried
    clock.now += 0.1
    sup.tick(engine)  # fails again: next in 2 s
    clock.now += 2
    sup.tick(engine)
    assert state.state == "healthy"
    assert engine.starts == 1


def test_backoff_resets_after_a_stable_minute() -> None:
    sup, engine, clock, _ = make()
    engine.running = False
    sup.tick(engine)
    clock.now += 0.5
    sup.tick(engine)
    assert sup.states["scripted"].failures == 1
    clock.now += 61
    sup.tick(engine)
    assert sup.states["scripted"].failures == 0


def test_the_watch_survives_an_event_sink_that_fails() -> None:
    engine, calls = Scripted(), []

    def broken_sink(*event: str) -> None:
        calls.append(event)
        raise OSError("state directory gone")

    sup = Supervisor([engine], interval=0.01, on_event=broken_sink)
    sup.mark_started(engine)
    engine.running = False  # dies: the down event fails to be recorded, again and again
    sup.start()
    try:
        assert wait_until(lambda: len(calls) >= 2, timeout=5)  # still watching after a failure
    finally:
        sup.stop()


def test_maintenance_leaves_an_engine_alone_and_counts_it_started_after() -> None:
    sup, engine, _, events = make()
    with sup.holding(engine):
        engine.running = False
        sup.tick(engine)
        assert sup.states["scripted"].state == "maintenance" and engine.starts == 0
        engine.running = True
    assert sup.states["scripted"].state == "healthy" and events == []


class SlowCheck(Scripted):
    """A check that answers only when the test lets it (a check in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.checking, self.answer = threading.Event(), threading.Event()

    def check(self) -> bool:
        self.checking.set()
        self.answer.wait(5)
        return super().check()


def test_a_maintenance_waits_for_the_check_in_flight() -> None:
    """A check that began before a switch stopped the engine restarted it in the middle of
    the switch (the platform's restore then failed with an internal error)."""
    engine, clock = SlowCheck(), Clock()
    sup = Supervisor([engine], interval=1, on_event=lambda *e: None, clock=clock)
    sup.mark_started(engine)
    ticking = threading.Thread(target=sup.tick, args=(engine,))
    ticking.start()
    assert engine.checking.wait(5)
    entered = threading.Event()

    def maintain() -> None:
        with sup.holding(engine):
            entered.set()
            engine.running = False  # stopped for the switch

    holding = threading.Thread(target=maintain)
    holding.start()
    assert not entered.wait(0.2)  # the maintenance waits for the tick
    engine.answer.set()
    ticking.join(5)
    holding.join(5)
    assert entered.is_set() and engine.starts == 0  # nothing restarted it meanwhile
