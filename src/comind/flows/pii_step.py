"""The inline ``detect_pii`` step: PII found where the flow's sinks do not expect it.

``quarantine`` refuses a record carrying PII in a field no sink dataset declares in
``pii:`` (a declared field is already handled by the PII guard); the reason names the
field and the detector, never the value. ``anonymize`` masks every found span in place.
"""

from __future__ import annotations

from prometheus_client import Counter

from comind.flows.quarantine import DETECTED
from comind.flows.records import Quarantined, Record, StepResult
from comind.governance.pii_detect import Finding, detect_text
from comind.observe.metrics import REGISTRY
from comind.spec import steps as declared

_FOUND = Counter(
    "comind_pii_detections_total",
    "PII values the detect_pii step found, by detector.",
    ["detector"],
    registry=REGISTRY,
)


def mask_spans(text: str, findings: list[Finding]) -> str:
    """`text` with each found span replaced by '*' of the same length."""
    out, last = [], 0
    for f in findings:
        out += [text[last : f.start], "*" * (f.end - f.start)]
        last = f.end
    return "".join([*out, text[last:]])


class DetectPii:
    def __init__(self, conf: declared.DetectPii, declared_pii: frozenset[str]) -> None:
        self.name = DETECTED
        self.conf = conf
        self.declared = declared_pii

    def _findings(self, name: str, value: object) -> list[Finding]:
        if not isinstance(value, str) or (self.conf.fields and name not in self.conf.fields):
            return []
        return [f for f in detect_text(value, name) if f.score >= self.conf.min_score]

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        for record in records:
            reasons = []
            for name, value in list(record.value.items()):
                findings = self._findings(name, value)
                for f in findings:
                    _FOUND.labels(f.detector).inc()
                if not findings or name in self.declared:
                    continue
                if self.conf.action == "anonymize":
                    record.value[name] = mask_spans(str(value), findings)
                else:
                    kinds = ", ".join(sorted({f.detector for f in findings}))
                    reasons.append(f"{name}: undeclared PII ({kinds})")
            if reasons:
                out.quarantined.append(Quarantined(record, self.name, reasons))
            else:
                out.kept.append(record)
        return out
