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
# rules over the whole dataset, checked after a run (the dataset checks), not per record
_DATASET_WIDE = frozenset({"freshness", "row_count", "sql"})


@dataclass(frozen=True)
class Rule:
    kind: str
    column: str | None  # several columns of one rule (a unique key) read "a,b"
    severity: str | None = None  # error | warn, when the rule says


@dataclass(frozen=True)
class Assertion:
    rule: Rule
    passed: bool
    failing: int  # records quarantined for this rule on the run


def declared_rules(spec: Spec, flow: str, outputs: Iterable[str]) -> list[Rule]:
    """The per-record rules a run of ``flow`` evaluates: its quality steps' and its output
    datasets' (the dataset-wide ones, freshness, row count and SQL, are checked apart)."""
    rules: list[Any] = [r for s in spec.flows[flow].steps if s.kind == "quality" for r in s.config]
    for name in outputs:
        if (dataset := spec.datasets.get(name)) is not None:
            rules += dataset.quality
    found: list[Rule] = []
    for rule in rules:
        for one in _rules(rule):
            if one.kind not in _DATASET_WIDE and one not in found:
                found.append(one)
    return found


def tally(reasons: Iterable[Sequence[str]]) -> Counter[RuleKey]:
    """Quarantined records per rule, from each record's reasons (a record counts once per
    rule it broke)."""
    counts: Counter[RuleKey] = Counter()
    for record_reasons in reasons:
        counts.update({key for r in record_reasons if (key := _rule_of(r)) is not None})
    return counts


def assertions(rules: Sequence[Rule], failures: Counter[RuleKey]) -> list[Assertion]:
    """Every declared rule with its result, then the failed rules nobody declared."""
    keys = {(r.kind, r.column) for r in rules}
    undeclared = [Rule(k, c) for k, c in failures if (k, c) not in keys]
    return [Assertion(r, failures[(r.kind, r.column)] == 0, failures[(r.kind, r.column)])
            for r in [*rules, *undeclared]]  # fmt: skip


def _rules(rule: Any) -> list[Rule]:
    """One declared rule per column it names: ``{range: {total: [0, 9]}}`` → range total; a
    unique key is one rule over its columns."""
    kind: str = rule.kind
    value, severity = getattr(rule, kind), getattr(rule, "severity", None)
    if kind == "unique":
        return [Rule(kind, ",".join(value), severity)]
    if isinstance(value, dict | list):
        return [Rule(kind, str(c), severity) for c in value]
    return [Rule(kind, None, severity)]


def _rule_of(reason: str) -> RuleKey | None:
    words = reason.split()
    if words and words[0] in _KINDS:
        named = len(words) > 1 and words[0] not in _DATASET_WIDE and words[1][:1] not in "[('\""
        return words[0], words[1] if named else None
    # the quality step's older wording, "FIELD: ... PHRASE ...": the value is never kept
    column, _, rest = reason.partition(": ")
    kind = next((k for phrase, k in _PHRASES if phrase in rest), None)
    return (kind, column) if kind is not None and " " not in column else None


_KINDS = frozenset(QUALITY_RULES) | {"freshness", "row_count", "custom_sql", "custom", "type",
                                     "max_length", "sql"}  # fmt: skip
_PHRASES = (("is null", "not_null"), ("outside [", "range"), ("is not one of", "accepted"),
            ("does not match", "regex"), ("duplicate", "unique"))  # fmt: skip
