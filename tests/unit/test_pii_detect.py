"""The PII detectors: checksums keep or drop candidates, context raises scores."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from comind.governance import pii_checksums as ck
from comind.governance.pii_detect import detect_record, detect_text, suggested_pii_block
from comind.spec.pii import PiiFields


def _found(text: str) -> dict[str, str]:
    return {f.detector: text[f.start : f.end] for f in detect_text(text)}


@pytest.mark.parametrize(
    ("text", "detector", "value"),
    [
        ("write to jane.doe@example.com today", "email", "jane.doe@example.com"),
        ("ring +31 20 794 0987 please", "phone", "+31 20 794 0987"),
        ("paid with 4111 1111 1111 1111", "credit_card", "4111 1111 1111 1111"),
        ("to GB82 WEST 1234 5698 7654 32", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("ssn 123-45-6789", "us_ssn", "123-45-6789"),
        ("bsn: 111222333", "nl_bsn", "111222333"),
        ("DNI 12345678Z", "es_dni", "12345678Z"),
        ("NIE X1234567L", "es_dni", "X1234567L"),
        ("CF RSSMRA85T10A562S", "it_codice_fiscale", "RSSMRA85T10A562S"),
        ("NIR 2 55 08 14 168 025 38", "fr_nir", "2 55 08 14 168 025 38"),
        ("from 192.168.1.20", "ip_address", "192.168.1.20"),
        ("from 2001:db8::1 ok", "ip_address", "2001:db8::1"),
        ("mac 00:1a:2b:3c:4d:5e", "mac_address", "00:1a:2b:3c:4d:5e"),
        ("she was born on 12 March 1980.", "date_of_birth", "12 March 1980"),
        ("geboren 03-04-1975", "date_of_birth", "03-04-1975"),
    ],
)
def test_each_detector_finds_its_valid_value(text: str, detector: str, value: str) -> None:
    assert _found(text).get(detector) == value


@pytest.mark.parametrize(
    ("text", "detector"),
    [
        ("paid with 4111 1111 1111 1112", "credit_card"),
        ("to GB82 WEST 1234 5698 7654 33", "iban"),
        ("ssn 666-45-6789", "us_ssn"),
        ("bsn: 111222334", "nl_bsn"),
        ("DNI 12345678A", "es_dni"),
        ("CF RSSMRA85T10A562T", "it_codice_fiscale"),
        ("NIR 255081416802539", "fr_nir"),
        ("from 192.168.1.300", "ip_address"),
        ("shipped on 2024-01-01", "date_of_birth"),
        ("order 111222333 shipped", "nl_bsn"),
        ("price 12.50 for 3 items, order 5521-77", "phone"),
    ],
)
def test_a_failing_checksum_or_missing_context_drops_the_candidate(
    text: str, detector: str
) -> None:
    assert detector not in _found(text)


def test_context_raises_the_score() -> None:
    bare = detect_text("4111 1111 1111 1111")[0]
    near = detect_text("card number 4111 1111 1111 1111")[0]
    assert bare.detector == near.detector == "credit_card"
    assert 0 < bare.score < near.score <= 1


def test_a_field_name_is_context() -> None:
    assert detect_record({"dob": "1980-03-12", "shipped": "2024-01-01", "n": 3}) == {
        "dob": {"date_of_birth": 0.5}
    }
    assert (
        detect_record({"customer_card": "4111111111111111"})["customer_card"]["credit_card"] > 0.6
    )


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_luhn_valid_generated_numbers_are_found(body: str) -> None:
    check = next(d for d in "0123456789" if ck.luhn(body + d))
    number = body + check
    assert any(f.detector == "credit_card" for f in detect_text(f"card {number} paid"))


def test_the_suggested_block_is_a_valid_pii_declaration() -> None:
    block = suggested_pii_block({"mail": "email", "ip": "ip_address", "born": "date_of_birth"})
    declared = yaml.safe_load(block)["pii"]
    assert set(declared) == {"mail", "ip", "born"}
    parsed = TypeAdapter(PiiFields).validate_python(declared)
    assert parsed["born"].generalize == "year"
    assert suggested_pii_block({}) == ""
