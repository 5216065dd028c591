"""Checksums that separate real identifiers from look-alike digit runs.

A PII candidate whose checksum fails is dropped: an order number that happens to have
sixteen digits is not a card unless its Luhn digit agrees.
"""

from __future__ import annotations

_ES_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_IT_ODD = (
    1,
    0,
    5,
    7,
    9,
    13,
    15,
    17,
    19,
    21,
    2,
    4,
    18,
    20,
    11,
    3,
    6,
    8,
    12,
    14,
    16,
    10,
    22,
    25,
    24,
    23,
)


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn(number: str) -> bool:
    """Payment card check digit (ISO/IEC 7812)."""
    total = 0
    for index, ch in enumerate(reversed(number)):
        value = int(ch)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban(text: str) -> bool:
    """ISO 13616 IBAN: country, check digits, then mod 97 of the rearranged number is 1."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def nl_bsn(number: str) -> bool:
    """Dutch citizen service number: the 11-test with weights 9..2 and -1."""
    if len(number) != 9 or number == "000000000":
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(number, weights, strict=True)) % 11 == 0


def es_dni(text: str) -> bool:
    """Spanish DNI (8 digits) or NIE (X/Y/Z and 7 digits) with its check letter."""
    text = text.upper()
    body = text[:-1]
    if body[:1] in ("X", "Y", "Z"):
        body = str("XYZ".index(body[0])) + body[1:]
    return body.isdigit() and len(body) == 8 and _ES_LETTERS[int(body) % 23] == text[-1]


def it_codice_fiscale(text: str) -> bool:
    """Italian tax code: the 16th character checks the first 15 (odd/even tables)."""
    text = text.upper()
    total = 0
    for index, ch in enumerate(text[:15]):
        value = int(ch) if ch.isdigit() else ord(ch) - ord("A")
        total += _IT_ODD[value] if index % 2 == 0 else value
    return chr(ord("A") + total % 26) == text[15]


def fr_nir(number: str) -> bool:
    """French social security number: the key is 97 - (first 13 digits mod 97)."""
    if len(number) != 15 or number[0] not in "12":
        return False
    return 97 - int(number[:13]) % 97 == int(number[13:])


def us_ssn(number: str) -> bool:
    """US SSN validity rules: no 000/666/9xx area, no 00 group, no 0000 serial."""
    if len(number) != 9:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"
