"""Which quality rules a flow run evaluated and whether they held, for the OpenLineage
``dataQualityAssertions`` facet.

The rules are the ones declared on the flow's output datasets (the inline gate) and in its
``quality`` steps; a rule failed on a run when a record was quarantined for it. Quarantine
reasons name the rule kind first, then the column (``range total [0, 100000]``), so a run's
reasons are tallied by ``(kind, column)``. A reason naming a rule nobody declared (an older
spec's record) still counts as a failed assertion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from comind.spec import Spec
from comind.spec.steps import QUALITY_RULES

RuleKey = tuple[str, str | None]  # (rule kind, column or None)


@dataclass(frozen=True)
class Assertion:
    kind: str
    column: str | None
    passed: bool
    failing: int  # records quarantined for this rule on the run


def declared_rules(spec: Spec, flow: str, outputs: Iterable[str]) -> list[RuleKey]:
    """The rules a run of ``flow`` evaluates: its quality steps' and its output datasets'."""
    rules: list[Any] = [r for s in spec.flows[flow].steps if s.kind == "quality" for r in s.config]
    for name in outputs:
        if (dataset := spec.datasets.get(name)) is not None:
            rules += dataset.quality
    keys: list[RuleKey] = []
    for rule in rules:
        for key in _keys(rule.model_dump(exclude_none=True, by_alias=True)):
            if key not in keys:
                keys.append(key)
    return keys


def tally(reasons: Iterable[Sequence[str]]) -> Counter[RuleKey]:
    """Quarantined records per rule, from each record's reasons (a record counts once per
    rule it broke)."""
    counts: Counter[RuleKey] = Counter()
    for record_reasons in reasons:
        counts.update({key for r in record_reasons if (key := _rule_of(r)) is not None})
    return counts


def assertions(rules: Sequence[RuleKey], failures: Counter[RuleKey]) -> list[Assertion]:
    """Every declared rule with its result, then the failed rules nobody declared."""
    undeclared = [k for k in failures if k not in rules]
    return [Assertion(k, c, failures[(k, c)] == 0, failures[(k, c)])
            for k, c in [*rules, *undeclared]]  # fmt: skip


def _keys(rule: dict[str, Any]) -> list[RuleKey]:
    """``{range: {total: [0, 9]}}`` → ``[("range", "total")]``; a rule over no column
    (a row count, custom SQL) → ``[(kind, None)]``."""
    (kind, value), *_ = rule.items()
    if isinstance(value, dict):
        return [(kind, str(c)) for c in value]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [(kind, c) for c in value]
    if isinstance(value, str) and kind in ("not_null", "unique"):
        return [(kind, value)]
    return [(kind, None)]


def _rule_of(reason: str) -> RuleKey | None:
    words = reason.split()
    if words and words[0] in _KINDS:
        return words[0], words[1] if len(words) > 1 and words[1][:1] not in "[('\"" else None
    # the quality step's older wording, "FIELD: ... PHRASE ...": the value is never kept
    column, _, rest = reason.partition(": ")
    kind = next((k for phrase, k in _PHRASES if phrase in rest), None)
    return (kind, column) if kind is not None and " " not in column else None


_KINDS = frozenset(QUALITY_RULES) | {"freshness", "row_count", "custom_sql", "custom", "type",
                                     "max_length", "sql"}  # fmt: skip
_PHRASES = (("is null", "not_null"), ("outside [", "range"), ("is not one of", "accepted"),
            ("does not match", "regex"), ("duplicate", "unique"))  # fmt: skip
