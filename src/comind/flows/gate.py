"""The dataset gate: a dataset's per-record quality rules, run on the records a flow is
about to write into it, after the flow's own steps.

A record breaking an ``error`` rule of any dataset it is bound for is quarantined with every
rule it broke (across those datasets) and written nowhere, not even to its other sinks; a
``warn`` rule only counts (``comind_quality_records_total``). ``unique`` holds within the
batch, as in the inline step; across the table it is the SQL checks' business.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from comind.flows import metrics
from comind.flows.records import Quarantined, Record
from comind.governance import quality

STEP = "quality"  # the step name quarantined records carry, as the inline step's


@dataclass(frozen=True)
class DatasetRules:
    dataset: str
    checks: Sequence[quality.Check]  # per-record checks only


class DatasetGate:
    def __init__(self, rules: Mapping[str, DatasetRules]) -> None:
        """``rules``: by sink key, the rules of the dataset that sink writes."""
        self.rules = {key: r for key, r in rules.items() if r.checks}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def apply(self, records: list[Record]) -> tuple[list[Record], list[Quarantined]]:
        """The records that may be written, and those quarantined."""
        reasons: dict[int, list[str]] = {}
        for key, rules in self.rules.items():
            mine = [r for r in records if r.route is None or r.route == key]
            self._judge(rules, mine, reasons)
        kept = [r for r in records if not reasons.get(id(r))]
        refused = [Quarantined(r, STEP, reasons[id(r)]) for r in records if reasons.get(id(r))]
        return kept, refused

    @staticmethod
    def _judge(rules: DatasetRules, records: list[Record], reasons: dict[int, list[str]]) -> None:
        for record, errors in judge_batch(rules.checks, records, rules.dataset):
            reasons.setdefault(id(record), []).extend(errors)


def judge_batch(
    checks: Sequence[quality.Check], records: list[Record], dataset: str
) -> list[tuple[Record, list[str]]]:
    """Each record with the error rules it broke (none: it passes), ``unique`` within the
    batch; failures and warnings counted under ``dataset`` ("" for a flow's own step)."""
    seen: quality.Seen = {}
    failed: Counter[str] = Counter()
    warned: Counter[str] = Counter()
    out = []
    for record in records:
        verdict = quality.judge(record.value, checks, seen)
        failed.update(verdict.errors)
        warned.update(verdict.warnings)
        out.append((record, verdict.errors))
    metrics.count_quality(dataset, failed, warned)
    return out
