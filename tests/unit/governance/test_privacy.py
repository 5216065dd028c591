"""The PII operators and the spec's forms of them."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from comind.governance.privacy import (
    DataKeyRef,
    decrypt_value,
    encrypt_value,
    generalize,
    hash_value,
    mask_value,
)
from comind.governance.tokens import shaped
from comind.spec.pii import Pii, PiiHandling

KEY = b"k" * 32
handling = TypeAdapter(Pii).validate_python


def test_hash_is_an_hmac_that_joins_and_is_not_a_plain_sha256() -> None:
    email = "ada@example.com"
    assert hash_value(KEY, email) == hash_value(KEY, email)  # joins across datasets
    assert hash_value(KEY, email) != hashlib.sha256(email.encode()).hexdigest()
    assert hash_value(KEY, email) == hmac.new(KEY, email.encode(), hashlib.sha256).hexdigest()
    assert hash_value(b"x" * 32, email) != hash_value(KEY, email)
    hashed = hash_value(KEY, email)
    assert hash_value(KEY, hashed) == hashed  # a protected dataset read again stays joinable


@given(st.text(min_size=0, max_size=40), st.integers(min_value=0, max_value=8))
def test_mask_keeps_at_most_the_last_n_and_is_idempotent(value: str, keep: int) -> None:
    masked = mask_value(value, keep)
    assert len(masked) == len(value)
    shown = len(masked) - len(masked.lstrip("*"))
    assert len(value) - shown <= keep
    if len(value) > 2 * keep:
        assert masked.endswith(value[len(value) - keep :] if keep else "")
    assert mask_value(masked, keep) == masked


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"generalize": "month"}, "1990-07-14", "1990-07"),
        ({"generalize": "month"}, date(1990, 7, 14), "1990-07"),
        ({"generalize": "year"}, "1990-07-14T10:00:00Z", "1990"),
        ({"generalize": {"band": 10}}, 37, "30-40"),
        ({"generalize": {"prefix": 3}}, "1017AB", "101***"),
        ({"generalize": "network"}, "192.168.7.42", "192.168.7.0/24"),
        ({"generalize": "network"}, "2001:db8:1:2::7", "2001:db8:1::/48"),
    ],
)
def test_generalize(spec: object, value: object, expected: str) -> None:
    assert generalize(value, handling(spec)) == expected


def test_encrypt_round_trips_and_is_bound_to_its_field() -> None:
    key = DataKeyRef("dk-1", b"d" * 32)
    sealed = encrypt_value(key, "123-45-6789", "dataset/a/ssn")
    assert sealed.startswith("enc:v1:dk-1:") and "6789" not in sealed
    assert encrypt_value(key, sealed, "dataset/a/ssn") == sealed
    assert decrypt_value(lambda _: key.key, sealed, "dataset/a/ssn") == "123-45-6789"
    with pytest.raises(Exception):  # noqa: B017 - AESGCM's InvalidTag: another field's value
        decrypt_value(lambda _: key.key, sealed, "dataset/a/other")


@given(st.text(alphabet="0123456789abcXYZ-@. ", min_size=1, max_size=30))
def test_tokens_keep_the_shape_and_are_deterministic(value: str) -> None:
    token = shaped(KEY, value)
    assert token == shaped(KEY, value) and len(token) == len(value)
    for a, b in zip(value, token, strict=True):
        assert a.isdigit() == b.isdigit() and a.islower() == b.islower()
        if not a.isalnum():
            assert a == b


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("hash", PiiHandling(operator="hash")),
        ({"mask": {"keep": 2}}, PiiHandling(operator="mask", keep=2)),
        ({"replace": "[name]"}, PiiHandling(operator="replace", value="[name]")),
        ({"raw": "support reads it"}, PiiHandling(operator="raw", reason="support reads it")),
    ],
)
def test_spec_forms(spec: object, expected: PiiHandling) -> None:
    assert handling(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("scramble", "expected one of hash, mask"),
        ({"raw": None}, "raw needs a reason"),
        ({"generalize": "decade"}, "generalize"),
        ({"mask": {"keep": -1}}, "greater than or equal to 0"),
    ],
)
def test_bad_spec_forms(spec: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        handling(spec)
