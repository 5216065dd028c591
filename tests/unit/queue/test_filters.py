"""Subscription filter policies."""

from __future__ import annotations

import pytest

from comind.queue.errors import InvalidParameterValue
from comind.queue.filters import check_policy, matches
from comind.queue.model import Attribute

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
