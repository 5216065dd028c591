"""The embedded PromQL subset: what it parses, what it refuses (with a position), and
what it computes on known data."""

from __future__ import annotations

import pytest

from comind.observe.promql import PromQLError, evaluate, parse
from comind.observe.rules import DEFAULTS

Labels = dict[str, str]


class Data:
    """Known series: instant values and windows of (seconds, value) points."""

    def __init__(self) -> None:
        self.now: dict[str, list[tuple[Labels, float]]] = {
            "comind_engine_up": [({"engine": "postgres"}, 0.0), ({"engine": "redis"}, 1.0)],
            "comind_queue_messages": [
                ({"queue": "a/jobs-dlq", "state": "visible"}, 2.0),
                ({"queue": "a/jobs-dlq", "state": "in_flight"}, 1.0),
                ({"queue": "a/jobs", "state": "visible"}, 7.0),
            ],
        }
        self.windows = {
            "comind_gitops_syncs_total": [
                ({"env": "dev", "outcome": "Failed"}, [(0.0, 1.0), (300.0, 3.0), (600.0, 4.0)]),
                ({"env": "dev", "outcome": "Succeeded"}, [(0.0, 5.0), (600.0, 2.0)]),  # reset
            ],
        }

    def instant(self, name: str) -> list[tuple[Labels, float]]:
        return self.now.get(name, [])

    def window(self, name: str, seconds: int) -> list[tuple[Labels, list[tuple[float, float]]]]:
        return self.windows.get(name, [])


def test_every_default_rule_is_in_the_subset() -> None:
    for rule in DEFAULTS:
        parse(rule.expr)


def test_selectors_aggregations_and_comparisons() -> None:
    data = Data()
    assert evaluate(parse("comind_engine_up == 0"), data) == [({"engine": "postgres"}, 0.0)]
    dlq = parse("sum by (queue) (comind_queue_messages{queue=~'.*-dlq'}) > 0")
    assert evaluate(dlq, data) == [({"queue": "a/jobs-dlq"}, 3.0)]
    visible = parse('max(comind_queue_messages{state="visible", queue!~".*dlq"})')
    assert evaluate(visible, data) == [({}, 7.0)]


def test_increase_and_rate_handle_counter_resets_and_extrapolate() -> None:
    data = Data()
    failed = parse('increase(comind_gitops_syncs_total{outcome=~"Failed|Refused"}[15m]) > 0')
    [(labels, value)] = evaluate(failed, data)
    assert labels == {"env": "dev", "outcome": "Failed"}
    assert value == pytest.approx(3.0 * 900 / 600)  # 3 over 10 min, extrapolated to 15
    [(_, after_reset)] = evaluate(
        parse('increase(comind_gitops_syncs_total{outcome="Succeeded"}[10m])'), data
    )
    assert after_reset == 2.0  # the counter restarted: its new value is the increase
    [(_, per_second)] = evaluate(
        parse('rate(comind_gitops_syncs_total{outcome="Failed"}[10m])'), data
    )
    assert per_second == pytest.approx(3.0 / 600)


@pytest.mark.parametrize(
    ("expr", "column"),
    [
        ("comind_engine_up +", 18),
        ("histogram_quantile(0.9, x)", 19),
        ("rate(x)", 7),
        ("x{a~'b'}", 4),
        ("x > ", 5),
    ],
)
def test_outside_the_subset_is_refused_with_a_position(expr: str, column: int) -> None:
    with pytest.raises(PromQLError) as err:
        parse(expr)
    assert f"at column {column}" in str(err.value)
