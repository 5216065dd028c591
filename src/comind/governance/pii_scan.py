"""A dataset's stored rows scanned for personal data its ``pii:`` does not declare.

Per field: the detectors that fired (and on how many of the sampled values), the share of
values with a finding, the best score, whether the dataset already declares the field, and
the handling to declare for it, as a ``pii:`` block to paste. The report names fields and
detectors, never a value.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from comind.governance.pii_detect import detect_value

SUGGESTED = {
    "email": "hash", "phone": "{mask: {keep: 4}}", "credit_card": "tokenize",
    "iban": "tokenize", "us_ssn": "encrypt", "nl_bsn": "encrypt", "es_dni": "encrypt",
    "ip_address": "{generalize: network}", "mac_address": "hash",
    "date_of_birth": "{generalize: month}",
}  # fmt: skip


@dataclass
class FieldScan:
    field: str
    declared: str | None  # the operator the dataset declares, if any
    values: int = 0
    hits: int = 0
    best_score: float = 0.0
    detectors: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def suggestion(self) -> str | None:
        if self.declared or not self.detectors:
            return None
        return SUGGESTED[self.detectors.most_common(1)[0][0]]

    def doc(self) -> dict[str, Any]:
        return {"field": self.field, "declared": self.declared, "values": self.values,
                "hit_rate": round(self.hits / self.values, 3) if self.values else 0.0,
                "best_score": self.best_score, "detectors": dict(self.detectors),
                "suggestion": self.suggestion}  # fmt: skip


def scan(rows: Iterable[Mapping[str, Any]], declared: Mapping[str, str]) -> list[FieldScan]:
    fields: dict[str, FieldScan] = {}
    for row in rows:
        for name, value in row.items():
            found = fields.setdefault(name, FieldScan(name, declared.get(name)))
            if value is None:
                continue
            found.values += 1
            findings = detect_value(name, value)
            if findings:
                found.hits += 1
                found.best_score = max(found.best_score, *(f.score for f in findings))
                found.detectors.update({f.detector for f in findings})
    return sorted(fields.values(), key=lambda f: f.field)


def suggested_block(found: list[FieldScan]) -> str:
    """The ``pii:`` lines for the undeclared fields with findings ('' when none)."""
    lines = [f"  {f.field}: {f.suggestion}" for f in found if f.suggestion]
    return "pii:\n" + "\n".join(lines) if lines else ""
