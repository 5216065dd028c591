"""Finding PII in free text and in records: compiled patterns, checksums, context.

Each detector is a compiled regex (with a cheap substring prefilter so text without an
"@" never runs the email pattern), an optional validator (a failing checksum drops the
candidate) and context words: a pattern alone scores low, a checksum raises it, a context
word shortly before the span (or a field name) raises it again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import phonenumbers
from prometheus_client import Counter

from comind.governance import pii_checksums as ck
from comind.observe.metrics import REGISTRY

# defined here, beside the detectors every flow worker imports, so the registry (and the
# generated docs/metrics.md) always lists it
SCANNED = Counter(
    "comind_pii_scanned_values",
    "String values the PII scan of a dataset's sample read.",
    registry=REGISTRY,
)

_CONTEXT_WINDOW = 24
_CONTEXT_BOOST = 0.2


@dataclass(frozen=True, slots=True)
class Finding:
    detector: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    pattern: re.Pattern[str]
    score: float
    validate: Callable[[str], bool] | None = None
    context: tuple[str, ...] = ()
    prefilter: Callable[[str], bool] | None = None
    context_required: bool = False


def _phone(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    # possible (right length for its country), not only assigned: test data and new
    # ranges use numbers no table lists yet; a lone local-length run does not count
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _ipv4(text: str) -> bool:
    return all(int(part) <= 255 for part in text.split("."))


_DATE = (
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}|\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun"
    r"|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    r"|Dec)[a-z]* \d{1,2}, \d{4})\b"
)

DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        0.85,
        context=("email", "mail", "e-mail"),
        prefilter=lambda text: "@" in text,
    ),
    Detector(
        "credit_card",
        re.compile(r"\b(?:\d[ -]?){11,18}\d\b"),  # Maestro: 12 to 19 digits
        0.3,
        validate=lambda text: ck.luhn(ck.digits(text)),
        context=("card", "visa", "mastercard", "amex", "credit"),
        prefilter=_has_digit,
    ),
    Detector(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        0.4,
        validate=ck.iban,
        context=("iban", "account", "bank"),
        prefilter=_has_digit,
    ),
    Detector(
        "us_ssn",
        re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
        0.5,
        validate=lambda text: ck.us_ssn(ck.digits(text)),
        context=("ssn", "social security"),
        prefilter=lambda text: "-" in text,
    ),
    Detector(
        "nl_bsn",
        re.compile(r"\b\d{9}\b"),
        0.3,
        validate=ck.nl_bsn,
        context=("bsn", "burgerservicenummer", "sofinummer"),
        prefilter=_has_digit,
        context_required=True,
    ),
    Detector(
        "es_dni",
        re.compile(r"\b[XYZ0-9]\d{7}[A-Z]\b"),
        0.6,
        validate=ck.es_dni,
        context=("dni", "nie", "documento"),
        prefilter=_has_digit,
    ),
    Detector(
        "it_codice_fiscale",
        re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b"),
        0.7,
        validate=ck.it_codice_fiscale,
        context=("codice fiscale", "cf"),
        prefilter=_has_digit,
    ),
    Detector(
        "fr_nir",
        re.compile(r"\b[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}\b"),
        0.6,
        validate=lambda text: ck.fr_nir(ck.digits(text)),
        context=("nir", "sécurité sociale", "securite sociale", "insee"),
        prefilter=_has_digit,
    ),
    Detector(
        "phone",
        re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,16}\d(?!\d)(?:(?:x| ?ext\.? ?)\d{1,6}\b)?"),
        0.4,
        validate=_phone,
        context=("phone", "tel", "mobile", "call", "cell"),
        prefilter=_has_digit,
    ),
    Detector(
        "ip_address",
        re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
        0.6,
        validate=_ipv4,
        context=("ip", "address", "host"),
        prefilter=lambda text: "." in text,
    ),
    Detector(
        "ip_address",
        re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})?(?:[0-9A-Fa-f:]*)"),
        0.6,
        validate=_ipv6,
        context=("ip", "address", "host"),
        prefilter=lambda text: "::" in text or text.count(":") >= 3,
    ),
    Detector(
        "mac_address",
        re.compile(r"\b[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}\b"),
        0.7,
        context=("mac", "device", "hardware"),
        prefilter=lambda text: text.count(":") >= 5 or text.count("-") >= 5,
    ),
    Detector(
        "date_of_birth",
        re.compile(_DATE),
        0.3,
        context=("born", "dob", "birth", "geboren", "nacido", "né le", "nata", "nato"),
        prefilter=_has_digit,
        context_required=True,
    ),
)

_BIRTH_FIELD = re.compile(r"birth|dob|born|geboren", re.IGNORECASE)


def _context(text: str, start: int, words: tuple[str, ...], field: str) -> bool:
    window = (field + " " + text[max(0, start - _CONTEXT_WINDOW) : start]).lower()
    return any(word in window for word in words)


def _scan(detector: Detector, text: str, field: str) -> list[Finding]:
    found = []
    for match in detector.pattern.finditer(text):
        candidate = match.group(0)
        if detector.validate is not None and not detector.validate(candidate):
            continue
        score = detector.score + (0.3 if detector.validate is not None else 0.0)
        if _context(text, match.start(), detector.context, field):
            score += _CONTEXT_BOOST
        elif detector.context_required:
            continue
        found.append(Finding(detector.name, match.start(), match.end(), round(min(score, 1.0), 2)))
    return found


def _overlaps(finding: Finding, kept: list[Finding]) -> bool:
    return any(finding.start < other.end and other.start < finding.end for other in kept)


def detect_text(text: str, field: str = "") -> list[Finding]:
    """Every PII span in `text`, best score first among overlaps, in text order.

    `field` is the name of the field the text came from: it counts as context.
    """
    if field and _BIRTH_FIELD.search(field):
        field = field + " birth"
    candidates: list[Finding] = []
    for detector in DETECTORS:
        if detector.prefilter is None or detector.prefilter(text):
            candidates.extend(_scan(detector, text, field))
    kept: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (-f.score, f.start)):
        if not _overlaps(finding, kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def detect_record(record: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """Per string field of `record`: the detectors that fired and their best score."""
    fields: dict[str, dict[str, float]] = {}
    for name, value in record.items():
        if not isinstance(value, str) or not value:
            continue
        best: dict[str, float] = {}
        for finding in detect_text(value, name):
            best[finding.detector] = max(best.get(finding.detector, 0.0), finding.score)
        if best:
            fields[name] = best
    return fields


# What a suggested `pii:` block proposes per detector: keep joins on hashed contact
# identifiers, keep the shape of phones, drop what is only ever a liability.
SUGGESTED_ACTION: Mapping[str, str] = {
    "email": "hash",
    "phone": "mask",
    "credit_card": "redact",
    "iban": "redact",
    "us_ssn": "redact",
    "nl_bsn": "redact",
    "es_dni": "redact",
    "it_codice_fiscale": "redact",
    "fr_nir": "redact",
    "ip_address": "{generalize: network}",
    "mac_address": "mask",
    "date_of_birth": "{generalize: year}",
}


def suggested_pii_block(fields: Mapping[str, str]) -> str:
    """A `pii:` YAML block for undeclared fields, given each field's strongest detector."""
    if not fields:
        return ""
    lines = ["pii:"]
    for field, detector in sorted(fields.items()):
        lines.append(f"  {field}: {SUGGESTED_ACTION.get(detector, 'redact')}  # {detector}")
    return "\n".join(lines) + "\n"
