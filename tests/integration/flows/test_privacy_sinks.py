"""The spec's ``pii:`` is law: a flow writing a dataset that declares PII fields protects
them before every sink (its table and its topic alike, the messages' attributes included);
tokens come back through the vault only for the platform, and hashes join with the same
value hashed elsewhere. A topic sink's ``attributes:`` are what subscription filters match."""

from __future__ import annotations

import json

import httpx
from flowkit import FlowKit
from starlette.applications import Starlette

from comind.api.guard import Guard
from comind.api.privacy import PrivacyApi, PrivacyScan
from comind.api.server import ApiServer
from comind.api.session import Sessions
from comind.api.tokens import Tokens
from comind.embedded.ports import free_port
from comind.governance.access import AccessStore
from comind.governance.keyring import Keyring
from comind.governance.privacy import hash_value
from comind.governance.sealbox import SealBox
from comind.governance.tokens import Tokenizer, TokenVault
from comind.platform.privacy import scan_dataset
from comind.queue.model import MAX_MESSAGE_SIZE

FLOW = """
people:
  kind: stream
  source: queue://shop/orders
  batch: {size: 50, max_wait: 0}
  sinks:
    table: {postgres: shop.people, upsert_on: [id]}
    copy: {topic: placed}
"""
PERSON = {"id": "p1", "email": "ann@example.com", "phone": "+33612345678",
          "card": "4111-1111-1111-1111", "total": 5}  # fmt: skip


def test_declared_fields_never_reach_a_sink_raw(kit: FlowKit) -> None:
    builder = kit.builder(FLOW)
    kit.send("shop/orders", [PERSON, {**PERSON, "id": "p2"}])
    outcome = builder.runner("people").run_once()
    assert outcome.written == 2
    keys = kit.engines.pii_keys
    assert keys is not None
    emails, phones, cards = zip(*kit.rows("SELECT email, phone, card FROM people"), strict=True)
    assert set(emails) == {hash_value(keys.hmac, "ann@example.com")}  # one hash: it joins
    assert set(phones) == {"********5678"}
    (card,) = set(cards)  # one value, one token
    assert card != PERSON["card"] and len(card) == len(PERSON["card"]) and card[4] == "-"
    copied = [json.loads(m.body) for m in kit.layer.queues.receive("shop/out", max_messages=10)]
    assert len(copied) == 2 and all(m["email"] == emails[0] and m["card"] == card for m in copied)
    assert "ann@example.com" not in json.dumps(copied)

    ring = Keyring(kit.root / ".keys")  # the test's platform side: it opens the vault
    vault = TokenVault(kit.layer.pool, SealBox(ring.vault_key(), "token-vault"))
    where = "dataset/shop.people/card"
    assert vault.detokenize([card], "dataset/shop.orders/card") == {card: None}  # not there
    assert vault.detokenize([card, "0000-0000-0000-0000"], where) == {
        card: PERSON["card"], "0000-0000-0000-0000": None}  # fmt: skip
    # a vault whose key moved (from the platform key to the keyring's) opens the older ones
    moved = TokenVault(kit.layer.pool, SealBox(b"n" * 32, "token-vault"),
                       [SealBox(ring.vault_key(), "token-vault")])  # fmt: skip
    assert moved.detokenize([card], where) == {card: PERSON["card"]}
    wrong = TokenVault(kit.layer.pool, SealBox(b"x" * 32, "token-vault"))
    try:
        wrong.detokenize([card], where)
    except Exception as exc:
        assert "does not open" in str(exc)
    else:
        raise AssertionError("another key opened the vault")


def tokenized_card(kit: FlowKit) -> tuple[str, Keyring, TokenVault]:
    """PERSON through the flow: its card's token in shop.people, the keyring and the vault."""
    builder = kit.builder(FLOW)
    kit.send("shop/orders", [PERSON])
    builder.runner("people").run_once()
    ((card,),) = kit.rows("SELECT card FROM people")
    ring = Keyring(kit.root / ".keys")
    return card, ring, TokenVault(kit.layer.pool, SealBox(ring.vault_key(), "token-vault"))


def test_detokenize_is_for_an_operator_of_the_app_and_every_call_is_audited(
    kit: FlowKit,
) -> None:
    card, _, vault = tokenized_card(kit)
    store = AccessStore(kit.layer.pool)
    tokens = Tokens(admin="adm", viewer="view", store=store, sessions=Sessions(b"s" * 32))
    app = Starlette(routes=PrivacyApi(lambda: [], vault.detokenize, Guard(tokens)).routes())
    who = {"viewer": "view", "operator": store.create("operator", app="shop")[1],
           "other": store.create("operator", app="billing")[1]}  # fmt: skip
    server = ApiServer(app, host="127.0.0.1", port=free_port("127.0.0.1"))
    server.start()
    body = {"dataset": "shop.people", "field": "card", "tokens": [card]}
    try:
        with httpx.Client(base_url=server.url) as client:
            answers = {role: client.post("/api/v1/privacy/detokenize", json=body,
                                         headers={"Authorization": f"Bearer {t}"})
                       for role, t in who.items()}  # fmt: skip
            operator = {"Authorization": f"Bearer {who['operator']}"}
            other = {**body, "dataset": "shop.orders"}  # the same token, asked for elsewhere
            elsewhere = client.post("/api/v1/privacy/detokenize", json=other, headers=operator)
    finally:
        server.stop()
    assert answers["operator"].json() == {"values": {card: PERSON["card"]}}
    assert elsewhere.json() == {"values": {card: None}}
    assert (answers["viewer"].status_code, answers["other"].status_code) == (403, 403)
    with kit.layer.pool.connection() as conn:
        audit = conn.execute("SELECT outcome, target, detail::text FROM comind.audit_log "
                             "WHERE action = 'detokenize' ORDER BY id").fetchall()  # fmt: skip
    assert sorted(a[0] for a in audit) == ["accepted", "accepted", "refused", "refused"]
    # a viewer is refused before its body is read: its entry cannot name the field
    assert [a[1] for a in audit if a[0] == "accepted"] == ["shop.people.card", "shop.orders.card"]
    assert all(PERSON["card"] not in a[2] for a in audit)
    accepted = [json.loads(a[2]) for a in audit if a[0] == "accepted"]
    assert accepted == [{"tokens": 1, "opened": 1}, {"tokens": 1, "opened": 0}]


def test_a_token_written_to_another_dataset_is_tokenized_again_never_opened_there(
    kit: FlowKit,
) -> None:
    """A value equal to a token of shop.people, written to another dataset's tokenized field,
    gets a token of its own there: its operator detokenizes it back to the token, never to
    the person's card (red team: passing tokens through let a flow launder them)."""
    card, ring, vault = tokenized_card(kit)
    elsewhere = "dataset/billing.contacts/card"
    laundered = Tokenizer(kit.layer.pool, ring.hmac_key()).tokens([card], elsewhere)[card]
    assert laundered != card
    assert vault.detokenize([card, laundered], elsewhere) == {card: None, laundered: card}
    assert vault.detokenize([card], "dataset/shop.people/card") == {card: PERSON["card"]}


def test_a_scan_finds_undeclared_pii_in_stored_rows_and_never_shows_a_value(kit: FlowKit) -> None:
    builder = kit.builder(FLOW)
    kit.execute("CREATE TABLE orders (id text PRIMARY KEY, email text, note text, total numeric)")
    kit.execute("INSERT INTO orders SELECT 'o' || i, 'u' || i || '@example.com', "
                "'call +31 6 1234567' || (i % 10), i FROM generate_series(1, 30) i")  # fmt: skip

    def scanned(dataset: str, sample: int) -> PrivacyScan:
        return scan_dataset(builder.spec, dataset, sample, lambda db, table: kit.app_db)

    store = AccessStore(kit.layer.pool)
    tokens = Tokens(admin="adm", viewer="view", store=store, sessions=Sessions(b"s" * 32))
    app = Starlette(routes=PrivacyApi(list, dict, Guard(tokens), scanned).routes())
    server = ApiServer(app, host="127.0.0.1", port=free_port("127.0.0.1"))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:

            def get(path: str, token: str) -> httpx.Response:
                return client.get(path, headers={"Authorization": f"Bearer {token}"})

            done = get("/api/v1/privacy/scan/shop.orders?sample=20", "adm")
            assert get("/api/v1/privacy/scan/shop.orders", "view").status_code == 403
            assert get("/api/v1/privacy/scan/shop.nothing", "adm").status_code == 404
    finally:
        server.stop()
    doc = done.json()
    fields = {f["field"]: f for f in doc["fields"]}
    assert doc["sampled"] == 20 and set(fields) == {"email", "note"}  # total: no finding
    assert list(fields["email"]["detectors"]) == ["email"] and fields["email"]["hit_rate"] == 1
    assert list(fields["note"]["detectors"]) == ["phone"] and not fields["note"]["declared"]
    assert doc["suggested_pii"] == "pii:\n  email: hash  # email\n  note: mask  # phone\n"
    assert "example.com" not in done.text and "+31" not in done.text


ANNOUNCED = FLOW.replace(
    "copy: {topic: placed}", "copy: {topic: placed, attributes: [email, total, vip]}"
)


def test_a_sinks_attributes_are_what_subscription_filters_match(kit: FlowKit) -> None:
    """Each message carries the fields the sink lists as attributes (after the PII handling,
    like its body; a field the record lacks is left out), so a filtered subscriber gets the
    matching records only (the example's analytics/order-feed got none before)."""
    builder = kit.builder(ANNOUNCED)
    kit.layer.admin.create("shop/big", {"VisibilityTimeout": "5"})
    kit.layer.topics.subscribe("placed", "shop/big", filter_policy={
        "total": [{"numeric": [">", 10]}], "vip": ["true"]})  # fmt: skip
    kit.send("shop/orders", [{**PERSON, "vip": True}, {**PERSON, "id": "p2", "total": 50,
             "vip": True}, {**PERSON, "id": "p3", "total": 70}])  # fmt: skip
    assert builder.runner("people").run_once().written == 3
    keys = kit.engines.pii_keys
    assert keys is not None
    copied = {json.loads(m.body)["id"]: m.attributes
              for m in kit.layer.queues.receive("shop/out", max_messages=10)}  # fmt: skip
    hashed = ("String", hash_value(keys.hmac, "ann@example.com"))
    seen = {i: {k: (a.data_type, a.string_value) for k, a in attrs.items()}
            for i, attrs in copied.items()}  # fmt: skip
    assert seen == {
        "p1": {"email": hashed, "total": ("Number", "5"), "vip": ("String", "true")},
        "p2": {"email": hashed, "total": ("Number", "50"), "vip": ("String", "true")},
        "p3": {"email": hashed, "total": ("Number", "70")},
    }
    big = kit.layer.queues.receive("shop/big", max_messages=10)
    assert [json.loads(m.body)["id"] for m in big] == ["p2"]


def test_a_record_no_queue_could_take_fails_alone_and_is_set_aside(kit: FlowKit) -> None:
    """Helper 52: the queue layer's refusal of one message (too long for any queue) failed
    the topic sink's whole batch as if the sink were down, so the batch came back for ever;
    now that record fails alone and the rest go on. Its dead letter (the record and the
    error) is over the limit too, so it is quarantined with the error instead."""
    builder = kit.builder(ANNOUNCED)
    huge = {**PERSON, "id": "p9", "note": ""}  # in at the limit; out with its email hashed
    huge["note"] = "x" * (MAX_MESSAGE_SIZE - len(json.dumps(huge)) - 8)  # and its attributes
    kit.send("shop/orders", [PERSON, huge])
    outcome = builder.runner("people").run_once()
    assert [(f.record.value["id"], f.step) for f in outcome.failed] == [("p9", "copy")]
    assert "shorter than" in str(outcome.failed[0].error)
    copied = kit.layer.queues.receive("shop/out", max_messages=10)
    assert [json.loads(m.body)["id"] for m in copied] == ["p1"]
    (held,) = kit.engines.state.quarantined("people")
    assert held["record"]["id"] == "p9" and "too large to dead-letter" in held["reasons"][0]
