"""PII detection: which values (or spans of free text) look like personal data, with a score.

Each detector is a compiled pattern with a cheap prefilter, then a check where the format
has one: Luhn for card numbers, ISO 7064 mod 97 for IBANs, the 11-test for Dutch BSNs, the
check letter for Spanish DNIs, the area/group/serial rules for US SSNs, ``phonenumbers`` for
phone numbers, ``ipaddress`` for IP addresses. A candidate whose check fails is dropped.
Context raises a score: a keyword just before the span in free text (``born``, ``ssn``,
``tel``...) or, for a record, the field's name. A date is reported only with such context
(a date of birth, not any date).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers

CONTEXT_CHARS = 40


@dataclass(frozen=True)
class Finding:
    detector: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Detector:
    name: str
    pattern: re.Pattern[str]
    score: float  # the pattern (and its check) alone
    check: Callable[[str], bool]
    context: tuple[str, ...] = ()  # words that raise the score to 0.95 nearby
    needs_context: bool = False  # reported only with context (dates of birth)
    hint: str = ""  # a character the text must hold for the pattern to be tried


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 else d
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban(text: str) -> bool:
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone(text: str) -> bool:
    try:
        international = text.startswith(("+", "00"))
        number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text,
                                    None if international else "NL")  # fmt: skip
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _bsn(text: str) -> bool:
    total = sum(int(d) * w for d, w in zip(text[:8], range(9, 1, -1), strict=True))
    return (total - int(text[8])) % 11 == 0 and text != "000000000"


def _dni(text: str) -> bool:
    number = text[:-1].replace("X", "0").replace("Y", "1").replace("Z", "2")
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(number) % 23] == text[-1]


def _ssn(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _always(text: str) -> bool:
    return True


_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_IPV6 = r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DATE = (
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{4}"
    rf"|\d{{1,2}} (?:{_MONTHS})[a-z]* \d{{4}})\b"
)

DETECTORS: tuple[Detector, ...] = (
    Detector("email", re.compile(_EMAIL),
             0.9, _always, ("email", "mail"), hint="@"),
    Detector("credit_card", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), 0.9, _luhn,
             ("card", "visa", "mastercard", "amex", "credit")),
    Detector("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
             0.9, _iban, ("iban", "account", "bank")),
    Detector("us_ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), 0.6, _ssn, ("ssn", "social security"),
             hint="-"),
    Detector("es_dni", re.compile(r"\b[XYZ0-9]\d{7}[A-Z]\b"), 0.8, _dni, ("dni", "nie")),
    Detector("nl_bsn", re.compile(r"\b\d{9}\b"), 0.4, _bsn, ("bsn", "burgerservicenummer")),
    Detector("mac_address", re.compile(r"\b(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b"), 0.8,
             _always, ("mac",), hint=":"),
    Detector("ip_address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), 0.6, _ip,
             ("ip", "address", "host"), hint="."),
    Detector("ip_address", re.compile(_IPV6),
             0.6, _ip, ("ip", "address", "host"), hint=":"),
    Detector("phone", re.compile(r"(?<![\w+])(?:\+|00)\d[\d ().-]{6,16}\d(?!\w)"), 0.8, _phone,
             ("phone", "tel", "mobile", "call")),  # international: +31 6 ..., 0031 6 ...
    Detector("phone", re.compile(r"(?<![\w+])\d[\d ().-]{6,16}\d(?!\w)"), 0.4, _phone,
             ("phone", "tel", "mobile", "call")),  # national (read as Dutch): with context
    Detector("date_of_birth", re.compile(_DATE), 0.85, _always,
             ("born", "birth", "dob", "geboren", "birthday"), needs_context=True),
)  # fmt: skip


def detect(text: str, context: str = "", *, min_score: float = 0.5) -> list[Finding]:
    """The spans of ``text`` that look like PII, best score first per span; ``context`` (a
    field's name) counts as context for the whole text."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []
    lowered = text.lower()
    for d in DETECTORS:
        if d.hint and d.hint not in text:
            continue
        for match in d.pattern.finditer(text):
            start, end = match.span()
            if any(s < end and start < e for s, e in taken) or not d.check(match.group()):
                continue
            near = context.lower() + " " + lowered[max(0, start - CONTEXT_CHARS) : start]
            boosted = any(word in near for word in d.context)
            if d.needs_context and not boosted:
                continue
            score = 0.95 if boosted else d.score
            if score >= min_score:
                found.append(Finding(d.name, start, end, score))
                taken.append((start, end))
    return sorted(found, key=lambda f: f.start)


def detect_value(field: str, value: object, *, min_score: float = 0.5) -> list[Finding]:
    """The findings in one field's value (strings only; a number is read as its digits)."""
    if isinstance(value, bool) or value is None:
        return []
    text = value if isinstance(value, str) else str(value)
    return detect(text, field.replace("_", " "), min_score=min_score)


def fields_with_pii(record: dict[str, object]) -> Iterator[tuple[str, Finding]]:
    for field, value in record.items():
        for finding in detect_value(field, value):
            yield field, finding
