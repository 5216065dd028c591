"""PII detectors: checksums drop look-alikes, context raises scores, dates need context;
a dataset scan names fields and detectors and suggests a pii: block."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comind.governance.pii_detect import detect, detect_value
from comind.governance.pii_scan import scan, suggested_block


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail ann@example.com now", [("email", "ann@example.com")]),
        ("card 4111 1111 1111 1111", [("credit_card", "4111 1111 1111 1111")]),
        ("card 4111 1111 1111 1112", []),  # Luhn fails
        ("NL91 ABNA 0417 1643 00", [("iban", "NL91 ABNA 0417 1643 00")]),
        ("NL92 ABNA 0417 1643 00", []),  # mod 97 fails
        ("ssn 123-45-6789", [("us_ssn", "123-45-6789")]),
        ("ssn 666-45-6789", []),  # no such area
        ("dni 12345678Z", [("es_dni", "12345678Z")]),
        ("dni 12345678A", []),  # wrong check letter
        ("bsn 111222333", [("nl_bsn", "111222333")]),
        ("host 10.1.2.3", [("ip_address", "10.1.2.3")]),
        ("host 10.1.2.300", []),
        ("ip 2001:db8::1", [("ip_address", "2001:db8::1")]),
        ("mac 00:1A:2B:3C:4D:5E", [("mac_address", "00:1A:2B:3C:4D:5E")]),
        ("call +31 6 12345678", [("phone", "+31 6 12345678")]),
        ("born 1990-07-14", [("date_of_birth", "1990-07-14")]),
        ("shipped 1990-07-14", []),  # a date, but not of birth
        ("order 12345 costs 19.99", []),
        ("ref 0612345678", []),  # a national phone number needs context
        ("tel 0612345678", [("phone", "0612345678")]),
    ],
)
def test_detectors(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


def test_context_raises_the_score_and_a_field_name_is_context() -> None:
    (bare,) = detect("111222333", min_score=0.0)
    (named,) = detect_value("bsn", "111222333")
    assert bare.score < 0.5 <= named.score
    assert detect("111222333", min_score=0.5) == []


@given(st.lists(st.integers(0, 9), min_size=15, max_size=15))
def test_every_luhn_valid_card_number_is_found(digits: list[int]) -> None:
    doubled = [(d * 2 - 9 if d > 4 else d * 2) if i % 2 == 0 else d
               for i, d in enumerate(reversed([4, *digits]))]  # fmt: skip
    total = sum(doubled)
    number = "".join(map(str, [4, *digits])) + str((10 - total % 10) % 10)
    assert [f.detector for f in detect(f"card {number}")] == ["credit_card"]


def test_scan_reports_fields_and_suggests_a_pii_block_without_values() -> None:
    note = ("ok", "born 1990-07-14")
    rows = [{"id": i, "email": f"u{i}@example.com", "phone": "+31 6 12345678",
             "note": note[i % 2], "total": 5} for i in range(10)]  # fmt: skip
    fields = {f.field: f for f in scan(rows, {"email": "hash"})}
    assert fields["email"].suggestion is None and fields["email"].declared == "hash"
    assert fields["phone"].doc()["hit_rate"] == 1.0 and fields["phone"].suggestion
    assert fields["note"].doc()["detectors"] == {"date_of_birth": 5}
    assert fields["id"].detectors == {} and fields["total"].detectors == {}
    block = suggested_block(list(fields.values()))
    assert block == "pii:\n  note: {generalize: month}\n  phone: {mask: {keep: 4}}"
    assert "example.com" not in str([f.doc() for f in fields.values()])
