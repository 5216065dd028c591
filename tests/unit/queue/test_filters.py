"""Subscription filter policies."""

from __future__ import annotations

import pytest

from comind.flows.sinks import message_attributes
from comind.queue.errors import InvalidParameterValue
from comind.queue.filters import check_policy, matches
from comind.queue.model import Attribute, check_attributes

S, N = "String", "Number"
MSG = {"country": Attribute(S, "NL"), "total": Attribute(N, "250"), "tier": Attribute(S, "gold")}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"country": ["NL", "DE"]}, True),
        ({"country": ["FR"]}, False),
        ({"country": ["NL"], "tier": ["silver"]}, False),  # AND across attributes
        ({"total": [250]}, True),
        ({"total": [{"numeric": [">", 100, "<=", 250]}]}, True),
        ({"total": [{"numeric": [">", 250]}]}, False),
        ({"tier": [{"prefix": "go"}]}, True),
        ({"tier": [{"anything-but": ["gold", "silver"]}]}, False),
        ({"tier": [{"anything-but": "bronze"}]}, True),
        ({"coupon": [{"exists": False}]}, True),
        ({"coupon": [{"exists": True}]}, False),
        ({"coupon": ["x"]}, False),
        (None, True),
    ],
)
def test_policy_matching(policy: dict[str, list[object]] | None, expected: bool) -> None:
    assert matches(policy, MSG) is expected


@pytest.mark.parametrize(
    "policy",
    [
        [],
        {},
        {"a": []},
        {"a": "x"},
        {"a": [{"numeric": ["~", 1]}]},
        {"a": [{"bogus": 1}]},
        {"a": [True]},
    ],
)
def test_malformed_policies_are_refused(policy: object) -> None:
    with pytest.raises(InvalidParameterValue):
        check_policy(policy)


def test_a_number_sqs_would_refuse_is_refused_and_never_breaks_a_filter() -> None:
    """Helper 52: a NaN Number passed the checks, then made every numeric filter raise,
    which failed the topic's whole fan-out (a flow's sink retried it for ever)."""
    for bad in ("nan", "NaN", "inf", "-Infinity", "1" * 39, "1e127"):
        with pytest.raises(InvalidParameterValue, match="to a number"):
            check_attributes({"n": Attribute(N, bad)})
    check_attributes({"n": Attribute(N, "1" * 38), "m": Attribute(N, "-1.5e-3")})
    with pytest.raises(InvalidParameterValue, match="characters SQS does not allow"):
        check_attributes({"s": Attribute(S, "a\x01b")})
    assert not matches({"n": [{"numeric": [">", 0]}]}, {"n": Attribute(N, "nan")})


def test_a_sinks_attributes_leave_out_what_sqs_would_refuse() -> None:
    record = {"ok": 3, "nan": float("nan"), "inf": float("inf"), "big": 10**40,
              "ctl": "a\x01", "flag": False, "nested": {"a": 1}, "empty": ""}  # fmt: skip
    sent = message_attributes(record, list(record))
    assert {k: (a.data_type, a.string_value) for k, a in sent.items()} == {
        "ok": (N, "3"), "flag": (S, "false")}  # fmt: skip
