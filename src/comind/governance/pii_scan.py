"""A dataset's sampled rows, scanned for PII: per field what fired, how often, how surely.

The report names fields, detectors, rates and scores, never a value, so it can be shown to
anyone allowed to see the dataset's shape. Undeclared fields get a suggested ``pii:`` block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as attribute

from comind.governance.pii_detect import SCANNED, detect_record, suggested_pii_block


@dataclass
class FieldScan:
    field: str
    declared: bool
    values: int = 0  # non-empty string values seen
    hits: int = 0  # values in which a detector fired
    detectors: dict[str, float] = attribute(default_factory=dict)  # detector -> best score

    @property
    def hit_rate(self) -> float:
        return self.hits / self.values if self.values else 0.0

    @property
    def strongest(self) -> str:
        return max(self.detectors, key=lambda d: self.detectors[d])

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "declared": self.declared, "values": self.values,
                "hit_rate": round(self.hit_rate, 4), "detectors": self.detectors,
                "best_score": max(self.detectors.values(), default=0.0)}  # fmt: skip


def scan(rows: Iterable[Mapping[str, object]], declared: Iterable[str]) -> list[FieldScan]:
    """Per field with at least one finding, in field order: what the sample shows."""
    known, fields = set(declared), dict[str, FieldScan]()
    for row in rows:
        for name, value in row.items():
            if isinstance(value, str) and value:
                entry = fields.setdefault(name, FieldScan(name, name in known))
                entry.values += 1
                SCANNED.inc()
        for name, found in detect_record(row).items():
            entry = fields[name]
            entry.hits += 1
            for detector, score in found.items():
                entry.detectors[detector] = max(entry.detectors.get(detector, 0.0), score)
    return [f for f in fields.values() if f.detectors]


def suggestion(found: list[FieldScan]) -> str:
    """The ``pii:`` block for the fields found with PII that the dataset does not declare."""
    return suggested_pii_block({f.field: f.strongest for f in found if not f.declared})
