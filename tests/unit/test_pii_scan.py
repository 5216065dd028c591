"""Scanning a dataset's sample: per field rates and scores, a suggestion, never a value."""

from __future__ import annotations

import json

from comind.governance.pii_scan import scan, suggestion
from comind.observe.metrics import REGISTRY


def test_scan_reports_fields_and_suggests_the_undeclared_without_values() -> None:
    before = REGISTRY.get_sample_value("comind_pii_scanned_values_total") or 0.0
    rows = [
        {"id": 1, "email": "ann@example.com", "note": "call +33 6 12 34 56 78", "city": "Lyon"},
        {"id": 2, "email": "bob@example.com", "note": "no thanks", "city": "Paris"},
    ]
    found = {f.field: f for f in scan(rows, declared=["email"])}
    assert set(found) == {"email", "note"}
    assert found["email"].declared and found["email"].hit_rate == 1.0
    assert not found["note"].declared and found["note"].hit_rate == 0.5
    assert found["note"].strongest == "phone"
    assert suggestion(list(found.values())) == "pii:\n  note: mask  # phone\n"
    report = json.dumps([f.as_dict() for f in found.values()])
    assert "example.com" not in report and "12 34" not in report
    assert (REGISTRY.get_sample_value("comind_pii_scanned_values_total") or 0.0) - before == 6
