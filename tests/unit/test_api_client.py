"""The CLI's API client: bounded retries while the platform heals, refusals in one line that
name the role needed and the role given, input errors as usage errors (exit 2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from comind.cli.api_client import Endpoint, Retry, _answer, _refusal, retrying
from comind.errors import ComindError, UsageError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_retry_that_succeeds_in_time_answers() -> None:
    clock, answers = FakeClock(), iter([Retry("down"), Retry("down"), {"ok": True}])

    def attempt() -> Any:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retrying(attempt, "GET /x", clock=clock, sleep=clock.sleep) == {"ok": True}
    assert clock.slept == [0.2, 0.4]  # backoff


def test_retries_stop_at_the_budget_with_the_last_reason() -> None:
    clock = FakeClock()

    def attempt() -> Any:
        raise Retry("PostgreSQL is unavailable right now (restarting?); try again shortly")

    with pytest.raises(ComindError) as err:
        retrying(attempt, "GET /api/v1/queues", budget=12.0, clock=clock, sleep=clock.sleep)
    assert str(err.value) == (
        "GET /api/v1/queues: PostgreSQL is unavailable right now (restarting?); try again shortly"
    )
    assert clock.now <= 12.0 and max(clock.slept) == 2.0


def response(status: int, doc: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=doc)


@pytest.mark.parametrize(
    ("held", "app", "expected"),
    [
        ("viewer", None, "this needs an operator token; the token given is a viewer"),
        ("operator", "shop", "the token given is limited to app shop"),
    ],
)
def test_a_refusal_names_the_role_needed_and_given(
    held: str, app: str | None, expected: str
) -> None:
    doc = {"error": "forbidden: needs role operator", "needs": "operator", "role": held, "app": app}
    refusal = _refusal("POST", "/api/v1/queues/a/q/purge", response(403, doc))
    assert type(refusal) is ComindError and refusal.exit_code == 1
    assert str(refusal) == f"POST /api/v1/queues/a/q/purge: {expected}"


def test_an_unknown_thing_is_a_usage_error_in_the_servers_words() -> None:
    refusal = _refusal("GET", "/x", response(404, {"error": "no queue 'a/nope'"}))
    assert isinstance(refusal, UsageError) and str(refusal) == "no queue 'a/nope'"


def test_a_503_and_a_refused_connection_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:

    target = Endpoint("http://127.0.0.1:9", "t", True)
    monkeypatch.setattr(httpx, "request", lambda *a, **k: response(503, {"error": "down"}))
    with pytest.raises(Retry, match="down"):
        _answer(target, "GET", "/x", None, None)

    def refused(*args: Any, **kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(httpx, "request", refused)
    with pytest.raises(Retry, match="does not answer"):
        _answer(target, "GET", "/x", None, None)
    with pytest.raises(Retry, match="does not answer"):  # a change that never arrived
        _answer(target, "POST", "/x", None, None)


def test_a_change_that_got_a_503_is_not_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    target = Endpoint("http://127.0.0.1:9", "t", True)
    monkeypatch.setattr(httpx, "request", lambda *a, **k: response(503, {"error": "down"}))
    with pytest.raises(ComindError, match="not retried") as caught:
        _answer(target, "POST", "/api/v1/queues/a/q/purge", None, None)
    assert not isinstance(caught.value, Retry)
