"""Quarantined records as governed data: what a flow's quarantine must hide, and how.

A quarantined record carries the PII handling of the datasets its flow reads (a
``postgres://`` source's dataset) and writes (its ``postgres`` sinks' datasets). Before it
is stored, each declared field is replaced by its declared handling (governance/masking.py;
an action not implemented yet masks), and the raw values of those fields are sealed to the
platform's quarantine public key (governance/sealbox.py) in a column of their own, bound to
the row's id. So the table holds no raw PII; the platform process alone can open the sealed
values, for an operator's read or a replay.

A record the source could not parse (``{"body": TEXT}`` at step ``source``) may hold any of
the fields in its text: when the flow declares any PII, the whole body is masked and sealed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from comind.governance.masking import hidden
from comind.governance.sealbox import SealBox, seal_to
from comind.spec import Spec
from comind.spec.privacy import flow_pii

UNPARSED = "body"  # the field a source keeps an unreadable message's text in
DETECTED = "detect_pii"  # the step that quarantines PII found in undeclared fields


def pii_actions(spec: Spec, flow: str) -> dict[str, str]:
    """Field → declared operator, over the datasets ``flow`` reads and writes."""
    return {field: d.handling.operator for field, d in flow_pii(spec, flow).items()}


def context(flow: str, row_id: int) -> str:
    """What a sealed value is bound to: its row."""
    return f"flow_quarantine/{flow}/{row_id}"


@dataclass(frozen=True)
class Selection:
    """Which records: ``ids``, or every one (``every``), or those older than ``older_than``
    seconds (discard only)."""

    ids: Sequence[int] = ()
    every: bool = False
    older_than: float | None = None


@dataclass(frozen=True)
class Protected:
    record: dict[str, Any]  # the declared fields hidden
    sealed: bytes | None  # their raw values, sealed (None: nothing to keep, or no key)
    masked: list[str]


@dataclass(frozen=True)
class Protection:
    """How one flow's quarantined records are stored."""

    actions: Mapping[str, str]
    public: bytes | None  # the platform's quarantine public key

    def protect(self, flow: str, row_id: int, step: str, record: dict[str, Any]) -> Protected:
        fields = {f: a for f, a in self.actions.items() if record.get(f) is not None}
        if self.actions and step == "source" and UNPARSED in record:
            fields[UNPARSED] = "mask"
        if step == DETECTED:  # the PII sits in fields nothing declares: hide every text
            fields |= {
                f: "redact" for f, v in record.items() if isinstance(v, str) and f not in fields
            }
        if not fields:
            return Protected(record, None, [])
        raw = json.dumps({f: record[f] for f in fields}, separators=(",", ":")).encode()
        sealed = None
        if self.public is not None:
            sealed = seal_to(self.public, raw, context=context(flow, row_id))
        shown = {**record, **{f: hidden(a, record[f]) for f, a in fields.items()}}
        return Protected(shown, sealed, sorted(fields))


def revealed(box: SealBox, flow: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The stored record with its sealed raw values put back."""
    record = dict(row["record"])
    if row.get("sealed"):
        raw = box.open(bytes(row["sealed"]), context=context(flow, int(row["id"])))
        record.update(json.loads(raw))
    return record


def view(row: Mapping[str, Any], record: dict[str, Any], *, raw: bool) -> dict[str, Any]:
    """One quarantined record as the API shows it."""
    at = row["at"]
    return {"id": int(row["id"]), "step": row["step"], "reasons": row["reasons"],
            "record": record, "pii": list(row.get("masked") or []), "raw": raw,
            "at": at.isoformat() if at is not None else None}  # fmt: skip
