"""The embedded alert evaluator: the same rules a Prometheus gets, evaluated in-process.

Each evaluation runs every rule over the live registry (instant values) and the built-in
time series (ranges for ``rate``/``increase``). An element that meets its rule is
*pending* until it has done so for the rule's ``for:``, then *firing*; when it no longer
meets it, it is *resolved*. Firing and resolved alerts are handed to ``notify`` in
Alertmanager's webhook shape. A rule outside the supported PromQL subset is kept and
reported as unsupported (with the reason), never silently skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comind.observe.promql import Labels, PromQLError, Query, Source, evaluate, parse

log = logging.getLogger("comind.alerting")


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    for_seconds: float = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class Active:
    labels: Labels
    value: float
    since: datetime
    firing: bool = False


class Alerting:
    def __init__(
        self,
        rules: Iterable[AlertRule],
        source: Source,
        notify: Callable[[list[dict[str, Any]]], None],
        *,
        external_url: str = "",
    ) -> None:
        self.source, self.notify, self.external_url = source, notify, external_url
        self.rules: list[tuple[AlertRule, Query | None, str]] = []
        for rule in rules:
            try:
                self.rules.append((rule, parse(rule.expr), ""))
            except PromQLError as exc:
                self.rules.append((rule, None, str(exc)))
        self.active: dict[str, dict[str, Active]] = {rule.name: {} for rule, _, _ in self.rules}

    def evaluate(self, now: datetime) -> list[dict[str, Any]]:
        """One round over every rule; the notifications it produced (also sent)."""
        out: list[dict[str, Any]] = []
        for rule, query, _ in self.rules:
            if query is not None:
                out += self._round(rule, query, now)
        if out:
            self.notify(out)
        return out

    def _round(self, rule: AlertRule, query: Query, now: datetime) -> list[dict[str, Any]]:
        try:
            vector = evaluate(query, self.source)
        except Exception as exc:  # a source error must not stop the other rules
            log.warning("alert %s: %s", rule.name, exc)
            return []
        seen, out, active = set(), [], self.active[rule.name]
        for labels, value in vector:
            key = _fingerprint(rule.name, labels)
            seen.add(key)
            state = active.setdefault(key, Active(labels, value, now))
            state.value = value
            if not state.firing and (now - state.since).total_seconds() >= rule.for_seconds:
                state.firing = True
                out.append(self._alert(rule, state, "firing", now))
        for key in [k for k in active if k not in seen]:
            state = active.pop(key)
            if state.firing:
                out.append(self._alert(rule, state, "resolved", now))
        return out

    def _alert(self, rule: AlertRule, state: Active, status: str, now: datetime) -> dict[str, Any]:
        labels = {"alertname": rule.name, **state.labels, **rule.labels}
        annotations = {k: _template(v, state) for k, v in rule.annotations.items()}
        return {
            "status": status, "labels": labels, "annotations": annotations,
            "startsAt": state.since.isoformat(),
            "endsAt": now.isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": self.external_url,
            "fingerprint": _fingerprint(rule.name, state.labels),
        }  # fmt: skip

    def states(self) -> list[dict[str, Any]]:
        """Every rule with its pending/firing elements, and why a rule is unsupported."""
        out = []
        for rule, query, reason in self.rules:
            elements = [{"labels": a.labels, "value": a.value, "since": a.since.isoformat(),
                         "state": "firing" if a.firing else "pending"}
                        for a in self.active[rule.name].values()]  # fmt: skip
            out.append({"alert": rule.name, "expr": rule.expr, "supported": query is not None,
                        "reason": reason, "alerts": elements})  # fmt: skip
        return out


def webhook_payload(alerts: list[dict[str, Any]], receiver: str = "comind") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for ``alerts``."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    first: dict[str, str] = alerts[0]["labels"] if alerts else {}
    common_labels = {k: v for k, v in first.items() if all(a["labels"].get(k) == v for a in alerts)}
    return {
        "version": "4", "groupKey": json.dumps(common_labels, sort_keys=True), "status": status,
        "receiver": receiver, "groupLabels": {}, "commonLabels": common_labels,
        "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0, "alerts": alerts,
    }  # fmt: skip


def _fingerprint(name: str, labels: Labels) -> str:
    text = json.dumps([name, sorted(labels.items())])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _template(text: str, state: Active) -> str:
    """The ``{{ $labels.x }}`` and ``{{ $value }}`` of Prometheus annotations."""
    for key, value in state.labels.items():
        text = text.replace("{{ $labels." + key + " }}", value)
    return text.replace("{{ $value }}", f"{state.value:g}")
