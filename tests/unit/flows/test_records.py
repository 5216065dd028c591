"""Records and the dead letter a failed one becomes."""

from __future__ import annotations

from comind.flows.records import Failed, Record, StepResult


class OrderError(Exception):
    pass


def test_a_dead_letter_names_the_flow_step_error_and_attempts() -> None:
    value = {"id": 7, "nested": {"a": [1]}}
    failed = Failed(Record(value, ref="h", attempts=4), "map:shop:price", OrderError("no price"))
    assert failed.letter("orders") == {
        "flow": "orders",
        "step": "map:shop:price",
        "error_type": "OrderError",
        "error": "no price",
        "attempts": 4,
        "record": {"id": 7, "nested": {"a": [1]}},
    }


def test_a_dead_letter_error_is_cut_at_2000_characters() -> None:
    letter = Failed(Record({}), "sink", ValueError("x" * 5000)).letter("f")
    assert letter["error"] == "x" * 2000
    assert letter["error_type"] == "ValueError"


def test_a_dead_letter_of_a_never_retried_record_has_zero_attempts() -> None:
    assert Failed(Record({"a": 1}), "s", KeyError("a")).letter("f")["attempts"] == 0
    assert Failed(Record({"a": 1}), "s", KeyError("a")).letter("f")["error"] == "'a'"


def test_step_results_start_empty_and_do_not_share_lists() -> None:
    one, two = StepResult(), StepResult()
    one.kept.append(Record({}))
    assert two.kept == [] and two.quarantined == [] and two.failed == []
    assert Record({}).route is None and Record({}).attempts == 0
