"""The ``aggregate`` step: group a batch and reduce each group to one row."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from comind.flows.aggregate import Aggregate
from comind.flows.records import Record
from comind.spec import steps as declared


def step_of(conf: Any) -> Aggregate:
    return Aggregate(declared.Aggregate.model_validate(conf))


def rows(step: Aggregate, *values: dict[str, Any]) -> list[dict[str, Any]]:
    result = step.apply([Record(dict(v)) for v in values])
    assert result.quarantined == [] and result.failed == []
    return [r.value for r in result.kept]


SALES = (
    {"region": "eu", "shop": "a", "amount": 10, "qty": "2"},
    {"region": "us", "shop": "b", "amount": 5.5, "qty": 1},
    {"region": "eu", "shop": "a", "amount": "2.5", "qty": None},
    {"region": "eu", "shop": "c", "amount": 7, "qty": 4},
)


def test_group_by_with_count_and_every_reducer() -> None:
    step = step_of(
        {
            "group_by": ["region"],
            "count": "orders",
            "sum": ["amount"],
            "min": ["amount"],
            "max": ["amount"],
            "avg": ["qty"],
        }
    )
    assert rows(step, *SALES) == [
        {
            "region": "eu",
            "orders": 3,
            "sum_amount": 19.5,
            "min_amount": 2.5,
            "max_amount": 10.0,
            "avg_qty": 3.0,
        },
        {
            "region": "us",
            "orders": 1,
            "sum_amount": 5.5,
            "min_amount": 5.5,
            "max_amount": 5.5,
            "avg_qty": 1.0,
        },
    ]


def test_groups_on_several_fields_come_out_sorted() -> None:
    step = step_of({"group_by": ["region", "shop"], "count": "n"})
    assert rows(step, *reversed(SALES)) == [
        {"region": "eu", "shop": "a", "n": 2},
        {"region": "eu", "shop": "c", "n": 1},
        {"region": "us", "shop": "b", "n": 1},
    ]


def test_without_group_by_the_whole_batch_is_one_group() -> None:
    step = step_of({"count": "n", "sum": ["amount"]})
    assert rows(step, *SALES) == [{"n": 4, "sum_amount": 25.0}]


def test_missing_and_non_numeric_values_are_skipped() -> None:
    step = step_of({"sum": ["v"], "min": ["v"], "max": ["v"], "avg": ["v"]})
    assert rows(step, {"v": "abc"}, {"v": None}, {"v": [1]}, {}, {"v": 4}, {"v": "2"}) == [
        {"sum_v": 6.0, "min_v": 2.0, "max_v": 4.0, "avg_v": 3.0}
    ]


def test_a_group_without_numbers_sums_to_zero_and_has_no_min_max_avg() -> None:
    step = step_of({"group_by": ["g"], "sum": ["v"], "min": ["v"], "avg": ["v"]})
    assert rows(step, {"g": 1, "v": "x"}) == [{"g": 1, "sum_v": 0.0, "min_v": None, "avg_v": None}]


def test_sums_and_averages_are_rounded_to_six_places() -> None:
    step = step_of({"sum": ["v"], "avg": ["v"]})
    assert rows(step, {"v": 0.1}, {"v": 0.2}) == [{"sum_v": 0.3, "avg_v": 0.15}]


def test_an_empty_batch_gives_no_rows() -> None:
    assert rows(step_of({"count": "n"})) == []


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (["region"], "Input should be a valid dictionary"),
        ({"group_by": ["a"], "median": ["v"], "p99": ["v"]}, "median\n  Extra inputs"),
    ],
)
def test_bad_configuration_is_refused_by_the_spec(conf: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        declared.Aggregate.model_validate(conf)
