"""What a flow's quarantine hides and how (no engine): the PII handling a flow's records
carry, the masking, the sealing to the platform's public key, the audit's id ranges."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from comind.api.quarantine import id_ranges
from comind.errors import ComindError
from comind.flows.quarantine import Protection, pii_actions, revealed
from comind.governance.sealbox import SealBox, seal_to
from comind.spec import load_spec

SPEC = """
platform: {name: t}
apps:
  shop: {run: "true", database: {}, queues: {q: {}}}
datasets:
  shop.orders: {store: postgres://shop/orders, pii: {email: hash}}
  shop.cards: {store: postgres://shop/cards, pii: {card: encrypt, phone: mask}}
  shop.plain: {store: postgres://shop/plain}
flows:
  reads:
    kind: batch
    on_demand: true
    source: postgres://shop/orders?since=1
    sinks: {a: {postgres: shop.cards}, b: {queue: shop/q}}
  writes: {kind: stream, source: queue://shop/q, sink: {postgres: shop.plain}}
"""


def test_a_flow_carries_the_pii_of_the_datasets_it_reads_and_writes(tmp_path: Path) -> None:
    (tmp_path / "comind.yaml").write_text(textwrap.dedent(SPEC))
    spec = load_spec(tmp_path)
    assert pii_actions(spec, "reads") == {"email": "hash", "card": "encrypt", "phone": "mask"}
    assert pii_actions(spec, "writes") == {}


def test_fields_are_hidden_as_declared_and_only_the_private_key_opens_them() -> None:
    box = SealBox(b"k" * 32, "quarantine")
    record = {"id": 7, "email": "a@b.io", "card": "4111111111111111", "phone": None}
    kept = Protection({"email": "redact", "card": "encrypt", "phone": "mask"}, box.public)
    done = kept.protect("f", 42, "validate", record)
    assert done.record == {"id": 7, "email": None, "card": "************1111", "phone": None}
    assert done.masked == ["card", "email"]  # a null field has nothing to hide
    assert done.sealed is not None and b"4111" not in done.sealed
    row = {"id": 42, "record": done.record, "sealed": done.sealed}
    assert revealed(box, "f", row) == record
    for wrong in (SealBox(b"x" * 32, "quarantine"), SealBox(b"k" * 32, "other")):
        with pytest.raises(ComindError, match="does not open"):
            revealed(wrong, "f", row)
    with pytest.raises(ComindError, match="does not open"):
        revealed(box, "g", row)  # bound to its flow and row
    tampered = bytearray(done.sealed)
    tampered[-1] ^= 1
    with pytest.raises(ComindError, match="does not open"):
        box.open(bytes(tampered), context="flow_quarantine/f/42")


def test_an_unreadable_message_is_hidden_whole_when_the_flow_declares_pii() -> None:
    box = SealBox(b"k" * 32, "quarantine")
    body = {"body": '{"email": "a@b.io", oops'}
    done = Protection({"email": "hash"}, box.public).protect("f", 1, "source", body)
    assert done.masked == ["body"] and "a@b.io" not in json.dumps(done.record)
    plain = Protection({}, box.public).protect("f", 1, "source", body)
    assert (plain.record, plain.sealed, plain.masked) == (body, None, [])


def test_without_a_published_key_fields_are_still_masked() -> None:
    done = Protection({"email": "hash"}, None).protect("f", 1, "validate", {"email": "a@b.io"})
    assert done.sealed is None and done.record["email"] != "a@b.io"


def test_sealing_is_randomized_and_keys_are_stable() -> None:
    box = SealBox(b"k" * 32, "quarantine")
    assert SealBox(b"k" * 32, "quarantine").public == box.public
    one, two = (seal_to(box.public, b"x", context="c") for _ in range(2))
    assert one != two and box.open(one, context="c") == box.open(two, context="c") == b"x"


def test_audited_ids_are_compressed_to_ranges() -> None:
    assert id_ranges([]) == []
    assert id_ranges([9, 1, 2, 3, 5, 6, 12]) == ["1-3", "5-6", "9", "12"]
