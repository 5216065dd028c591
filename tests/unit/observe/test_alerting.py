"""The embedded alert evaluator: pending, firing after `for:`, resolved, unsupported rules
reported, annotations filled in, Alertmanager's webhook shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from comind.observe.alerting import Alerting, AlertRule, webhook_payload

T0 = datetime(2026, 11, 27, tzinfo=UTC)


class Engines:
    def __init__(self) -> None:
        self.up = {"postgres": 1.0, "redis": 1.0}

    def instant(self, name: str) -> list[tuple[dict[str, str], float]]:
        return (
            [({"engine": e}, v) for e, v in self.up.items()] if name == "comind_engine_up" else []
        )

    def window(
        self, name: str, seconds: int
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        return []


def test_an_alert_is_pending_then_firing_then_resolved() -> None:
    sent: list[list[dict[str, Any]]] = []
    engines = Engines()
    rule = AlertRule("EngineDown", "comind_engine_up == 0", 60, {"severity": "critical"},
                     {"summary": "{{ $labels.engine }} is down ({{ $value }})"})  # fmt: skip
    alerting = Alerting([rule], engines, sent.append)
    assert alerting.evaluate(T0) == []
    engines.up["postgres"] = 0.0
    assert alerting.evaluate(T0 + timedelta(seconds=10)) == []  # pending: for 60 s
    assert alerting.states()[0]["alerts"][0]["state"] == "pending"
    [firing] = alerting.evaluate(T0 + timedelta(seconds=75))
    assert firing["status"] == "firing"
    assert firing["labels"] == {
        "alertname": "EngineDown",
        "engine": "postgres",
        "severity": "critical",
    }
    assert firing["annotations"] == {"summary": "postgres is down (0)"}
    assert alerting.evaluate(T0 + timedelta(seconds=85)) == []  # fires once, not every round
    engines.up["postgres"] = 1.0
    [resolved] = alerting.evaluate(T0 + timedelta(seconds=95))
    assert resolved["status"] == "resolved" and resolved["fingerprint"] == firing["fingerprint"]
    assert [len(batch) for batch in sent] == [1, 1]


def test_a_condition_that_clears_while_pending_never_notifies() -> None:
    sent: list[list[dict[str, Any]]] = []
    engines = Engines()
    alerting = Alerting(
        [AlertRule("EngineDown", "comind_engine_up == 0", 60)], engines, sent.append
    )
    engines.up["redis"] = 0.0
    alerting.evaluate(T0)
    engines.up["redis"] = 1.0
    alerting.evaluate(T0 + timedelta(seconds=30))
    assert sent == [] and alerting.states()[0]["alerts"] == []


def test_rules_outside_the_subset_are_reported_not_dropped() -> None:
    alerting = Alerting([AlertRule("P99", "histogram_quantile(0.99, x) > 1")], Engines(), print)
    [state] = alerting.states()
    assert state["supported"] is False and "at column" in state["reason"]
    assert alerting.evaluate(T0) == []


def test_the_webhook_body_has_alertmanagers_shape() -> None:
    alert = {"status": "firing", "labels": {"alertname": "A", "severity": "warning", "x": "1"}}
    other = {"status": "resolved", "labels": {"alertname": "A", "severity": "warning", "x": "2"}}
    body = webhook_payload([alert, other])
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["commonLabels"] == {"alertname": "A", "severity": "warning"}
    assert body["alerts"] == [alert, other]
