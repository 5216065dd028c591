"""The detect_pii step: options validated, undeclared PII quarantined or masked."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from comind.flows.pii_step import DetectPii
from comind.flows.records import Record
from comind.observe.metrics import REGISTRY
from comind.spec.steps import DetectPii as DetectPiiConf
from comind.spec.steps import Step

STEP: TypeAdapter[object] = TypeAdapter(Step)


def _found(detector: str) -> float:
    return REGISTRY.get_sample_value("comind_pii_detections_total", {"detector": detector}) or 0.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"action": "drop"}, "'quarantine' or 'anonymize'"),
        ({"action": "quarantine", "min_score": 1.5}, "less than or equal to 1"),
        ({"action": "quarantine", "fields": [3]}, "valid string"),
        ({"action": "quarantine", "scope": "all"}, "scope"),
        ({}, "action"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        STEP.validate_python({"detect_pii": options})


def test_undeclared_pii_is_quarantined_naming_field_and_detector_not_value() -> None:
    step = DetectPii(DetectPiiConf(action="quarantine"), frozenset({"email"}))
    before = _found("email")
    clean = Record({"email": "a@example.com", "note": "all good"})
    leaky = Record({"email": "a@example.com", "note": "reach me at b@example.org"})
    result = step.apply([clean, leaky])
    assert result.kept == [clean]
    (refused,) = result.quarantined
    assert refused.reasons == ["note: undeclared PII (email)"]
    assert "example" not in " ".join(refused.reasons)
    assert _found("email") - before == 3


def test_anonymize_masks_found_spans_in_place() -> None:
    step = DetectPii(DetectPiiConf(action="anonymize", fields=["note"]), frozenset())
    record = Record({"note": "card 4111 1111 1111 1111 ok", "other": "x@example.com"})
    (kept,) = step.apply([record]).kept
    assert kept.value == {"note": "card " + "*" * 19 + " ok", "other": "x@example.com"}


def test_min_score_ignores_weak_findings() -> None:
    step = DetectPii(DetectPiiConf(action="quarantine", min_score=0.95), frozenset())
    assert step.apply([Record({"note": "4111 1111 1111 1111"})]).quarantined == []
