"""governance.quality: each rule's per-record test, its name (the reason a record carries,
never the value) and severity."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from comind.governance import quality
from comind.governance.quality_store import CheckResult, blocking_reason
from comind.spec.steps import QualityRules

RULES = TypeAdapter(QualityRules)


def names(rules: Any) -> list[str]:
    return [c.name for c in quality.checks(RULES.validate_python(rules))]


def broken(rules: Any, *values: dict[str, Any]) -> list[list[str]]:
    """Per value, the error rules it breaks (``unique`` across the values)."""
    record_checks = quality.per_record(quality.checks(RULES.validate_python(rules)))
    seen: quality.Seen = {}
    return [quality.judge(v, record_checks, seen).errors for v in values]


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ({"not_null": ["id"]}, {"id": 0}, {"id": None}),
        ({"range": {"total": [0, 100000]}}, {"total": 100000}, {"total": 200000}),
        ({"range": {"total": [0, 1]}}, {"total": "0.5"}, {"total": True}),
        ({"accepted": {"currency": ["EUR", "USD"]}}, {"currency": "EUR"}, {"currency": "eur"}),
        ({"regex": {"sku": r"[A-Z]{3}-\d+"}}, {"sku": "ABC-1"}, {"sku": "xABC-1"}),
        ({"type": {"n": "integer"}}, {"n": 3}, {"n": 3.5}),
        ({"type": {"n": "number"}}, {"n": 3.5}, {"n": "3.5"}),
        ({"type": {"n": "string"}}, {"n": "3"}, {"n": 3}),
        ({"type": {"n": "boolean"}}, {"n": False}, {"n": 0}),
        ({"type": {"at": "timestamp"}}, {"at": "2026-12-03T10:00:00Z"}, {"at": "yesterday"}),
        ({"max_length": {"email": 5}}, {"email": "a@b.c"}, {"email": "ab@cd.e"}),
    ],
)
def test_each_rule_passes_good_values_nulls_and_names_itself_on_bad_ones(
    rule: dict[str, Any], good: dict[str, Any], bad: dict[str, Any]
) -> None:
    missing = [] if "not_null" in rule else [[]]  # a missing field passes all but not_null
    assert broken([rule], good, *([{}] if missing else [])) == [[], *missing]
    assert broken([rule], bad) == [names([rule])]


def test_the_names_state_the_rule_never_the_value() -> None:
    assert names(
        [
            {"range": {"total": [0, 100000]}},
            {"not_null": ["id", "total"]},
            {"accepted": {"currency": ["EUR", "USD", "GBP"]}},
            {"regex": {"email": "^[^@]+@[^@]+$"}},
            {"type": {"total": "number"}},
            {"max_length": {"email": 254}},
            {"unique": ["id"]},
            {"unique": ["a", "b"]},
            {"freshness": {"field": "created_at", "max_age": "2h"}},
            {"row_count": {"min": 1}},
            {"sql": "SELECT id FROM {table}\n  WHERE total < 0;"},
        ]
    ) == [
        "range total [0, 100000]",
        "not_null id",
        "not_null total",
        "accepted currency [EUR, USD, GBP]",
        "regex email ^[^@]+@[^@]+$",
        "type total number",
        "max_length email 254",
        "unique id",
        "unique a,b",
        "freshness created_at 2h",
        "row_count [1, ]",
        "sql SELECT id FROM {table} WHERE total < 0",
    ]


def test_unique_holds_within_the_values_judged_together() -> None:
    assert broken(
        [{"unique": ["a", "b"]}], {"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 1}
    ) == [
        [],
        [],
        ["unique a,b"],
    ]


def test_a_record_gets_every_error_rule_it_breaks_and_warn_rules_apart() -> None:
    rules = RULES.validate_python(
        [
            {"not_null": "id"},
            {"range": {"n": [1, 2]}},
            {"accepted": {"s": ["a"]}, "severity": "warn"},
            {"max_length": {"s": 0 + 1}},
        ]
    )
    verdict = quality.judge(
        {"id": None, "n": 3, "s": "bb"}, quality.per_record(quality.checks(rules)), {}
    )
    assert verdict.errors == ["not_null id", "range n [1, 2]", "max_length s 1"]
    assert verdict.warnings == ["accepted s [a]"]


def test_severity_defaults_to_error_and_whole_dataset_rules_have_no_record_test() -> None:
    checks = quality.checks(
        RULES.validate_python(
            [
                {"not_null": "id"},
                {"row_count": {"max": 9}, "severity": "warn"},
                {"sql": "SELECT 1 FROM {table}"},
            ]
        )
    )
    assert [c.severity for c in checks] == ["error", "warn", "error"]
    assert [c.name for c in quality.per_record(checks)] == ["not_null id"]


def test_the_mapping_form_is_a_list_of_one_key_rules() -> None:
    assert names({"not_null": "id", "range": {"n": [0, 1]}}) == ["not_null id", "range n [0, 1]"]


def test_unique_tells_types_apart_and_compares_lists_and_objects_by_value() -> None:
    assert broken(
        [{"unique": "k"}], {"k": 1}, {"k": True}, {"k": 1.0}, {"k": 1},
        {"k": [1, {"a": 2}]}, {"k": [1, {"a": 2}]},
    ) == [[], [], [], ["unique k"], [], ["unique k"]]  # fmt: skip


def test_a_partition_blocks_on_failed_error_rules_only_and_says_which() -> None:
    results = [
        CheckResult("range total [0, 100000]", "error", False, 3, 10),
        CheckResult("not_null id", "error", True, 0, 10),
        CheckResult("max_length email 254", "warn", False, 1, 10),
        CheckResult("freshness at 1h", "error", False, 1, 10),
        CheckResult("sql SELECT 1 FROM {table}", "error", False, error="canceling statement"),
    ]
    assert blocking_reason("orders.enriched_orders", "2026-12-03", results) == (
        "waiting on orders.enriched_orders 2026-12-03: range total [0, 100000] failed for 3 "
        "rows; freshness at 1h failed; sql SELECT 1 FROM {table} could not run: canceling "
        "statement"
    )
    assert blocking_reason("d", "", results[1:3]) is None  # a warn rule only records
