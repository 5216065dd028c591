"""The ``aggregate`` step: group a batch (a whole partition in a batch flow) and reduce it:
``{group_by: [f...], count: NAME, sum: [f...], min: [...], max: [...], avg: [...]}``."""

from __future__ import annotations

import json
from typing import Any

from comind.flows.records import Record, StepResult
from comind.spec import steps as declared


class Aggregate:
    def __init__(self, conf: declared.Aggregate) -> None:
        self.name = "aggregate"
        self.group_by = list(conf.group_by)
        self.count = conf.count
        self.reduce = {"sum": conf.sum, "min": conf.min, "max": conf.max, "avg": conf.avg}

    def apply(self, records: list[Record]) -> StepResult:
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            key = json.dumps([record.value.get(f) for f in self.group_by], default=str)
            groups.setdefault(key, []).append(record.value)
        return StepResult(kept=[Record(self._row(rows)) for _, rows in sorted(groups.items())])

    def _row(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        out = {f: rows[0].get(f) for f in self.group_by}
        if self.count:
            out[self.count] = len(rows)
        for kind, fields in self.reduce.items():
            for f in fields:
                nums = [
                    float(r[f])
                    for r in rows
                    if isinstance(r.get(f), int | float | str) and _num(r[f])
                ]
                out[f"{kind}_{f}"] = _reduced(kind, nums)
        return out


def _num(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _reduced(kind: str, nums: list[float]) -> float | None:
    if not nums:
        return 0.0 if kind == "sum" else None
    if kind == "sum":
        return round(sum(nums), 6)
    if kind == "avg":
        return round(sum(nums) / len(nums), 6)
    return min(nums) if kind == "min" else max(nums)
