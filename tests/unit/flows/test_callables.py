"""User code: ``module:function`` references, and the per-record time limit."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from comind.errors import ComindError
from comind.flows.callables import StepTimeout, deadline, load_callable
from comind.flows.records import Record
from comind.flows.steps import FilterStep, MapStep, StepContext

from .conftest import UserModule

SLOW = """
    import time

    def slow(v):
        if v.get("slow"):
            time.sleep(5)
        return v

    def quick(v):
        return {"ok": True, **v}
"""


def test_load_callable_returns_the_function(tmp_path: Path, user_module: UserModule) -> None:
    name = user_module(SLOW)
    fn = load_callable(f"{name}:quick", tmp_path)
    assert fn({"n": 1}) == {"ok": True, "n": 1}


@pytest.mark.parametrize("ref", ["module", "module:", ":function", ""])
def test_load_callable_needs_module_colon_function(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ComindError, match=f"expected module:function, got '{ref}'"):
        load_callable(ref, tmp_path)


def test_load_callable_missing_module(tmp_path: Path, user_module: UserModule) -> None:
    with pytest.raises(ComindError, match=r"cannot import flowtest_absent_mod from .*") as err:
        load_callable("flowtest_absent_mod:f", tmp_path)
    assert str(tmp_path) in str(err.value)
    assert isinstance(err.value.__cause__, ModuleNotFoundError)


def test_load_callable_module_that_raises_on_import(
    tmp_path: Path, user_module: UserModule
) -> None:
    name = user_module("raise RuntimeError('import-time failure')\n")
    with pytest.raises(ComindError, match=f"cannot import {name} from .*import-time failure"):
        load_callable(f"{name}:f", tmp_path)


@pytest.mark.parametrize("attr", ["absent", "VALUE"])
def test_load_callable_missing_or_non_callable_function(
    tmp_path: Path, user_module: UserModule, attr: str
) -> None:
    name = user_module("VALUE = 3\n")
    with pytest.raises(ComindError, match=f"^{name} has no function {attr}$"):
        load_callable(f"{name}:{attr}", tmp_path)


# -- deadline (SIGALRM): pytest-timeout's thread method, so the alarm is ours alone


@pytest.mark.timeout(10, method="thread")
def test_deadline_interrupts_a_hanging_call() -> None:
    with pytest.raises(StepTimeout, match=r"step timed out after 0\.2 s"), deadline(0.2):
        time.sleep(5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.timeout(10, method="thread")
def test_deadline_clears_its_alarm_and_restores_the_handler() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("the previous handler must not run")

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        with deadline(5):
            assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
            assert signal.getsignal(signal.SIGALRM) is not mine
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is mine
    finally:
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.timeout(10, method="thread")
def test_deadline_restores_the_handler_after_a_timeout() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(StepTimeout), deadline(0.1):
        time.sleep(5)
    assert signal.getsignal(signal.SIGALRM) is before


@pytest.mark.timeout(10, method="thread")
def test_deadline_of_zero_sets_no_alarm() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with deadline(0):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is before


@pytest.mark.timeout(10, method="thread")
def test_deadline_off_the_main_thread_runs_unbounded() -> None:
    outcome: list[object] = []

    def work() -> None:
        try:
            with deadline(0.01):
                time.sleep(0.1)
            outcome.append("finished")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["finished"]


@pytest.mark.timeout(10, method="thread")
def test_a_map_step_past_its_timeout_fails_the_record_and_goes_on(
    tmp_path: Path, user_module: UserModule
) -> None:
    name = user_module(SLOW)
    step = MapStep(f"{name}:slow", StepContext(flow="f", root=tmp_path, timeout=0.2))
    hanging = Record({"slow": True})
    result = step.apply([hanging, Record({"n": 2})])
    assert [r.value for r in result.kept] == [{"n": 2}]
    assert len(result.failed) == 1
    record, error = result.failed[0]
    assert record is hanging
    assert isinstance(error, StepTimeout)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.timeout(10, method="thread")
def test_a_filter_step_past_its_timeout_fails_the_record(
    tmp_path: Path, user_module: UserModule
) -> None:
    name = user_module(SLOW)
    step = FilterStep(f"{name}:slow", StepContext(flow="f", root=tmp_path, timeout=0.2))
    result = step.apply([Record({"slow": True})])
    assert result.kept == []
    assert [type(e) for _, e in result.failed] == [StepTimeout]
