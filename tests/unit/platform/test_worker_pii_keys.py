"""A flow worker gets the PII key only when its flow hashes, tokenizes or encrypts: a worker
holding it could reverse the platform's hashes and tokens by dictionary (red team, issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from comind.flows.privacy import keys_from_env
from comind.governance.keyring import Keyring
from comind.governance.tokens import TokenVault
from comind.platform.privacy import Privacy
from comind.spec import load_spec

SPEC = """\
platform: {name: keys}
apps:
  shop:
    run: sleep 1
    database: {}
    queues: {orders: {}}
datasets:
  shop.people:
    store: postgres://shop/people
    pii: {email: hash, phone: mask}
  shop.masked:
    store: postgres://shop/masked
    pii: {phone: mask}
flows:
  people:
    kind: stream
    source: queue://shop/orders
    sink: {postgres: shop.people}
  masked:
    kind: stream
    source: queue://shop/orders
    sink: {postgres: shop.masked}
  plain:
    kind: stream
    source: queue://shop/orders
    sink: {queue: shop/orders}
"""


def test_only_flows_that_hash_tokenize_or_encrypt_get_the_pii_key(tmp_path: Path) -> None:
    (tmp_path / "comind.yaml").write_text(SPEC)
    spec = load_spec(tmp_path)
    ring = Keyring(tmp_path / "secrets")
    privacy = Privacy(ring, cast(TokenVault, None))  # the vault plays no part here
    keys = keys_from_env(privacy.worker_env(spec, "people"))
    assert keys is not None and keys.hmac == ring.hmac_key()
    assert privacy.worker_env(spec, "masked") == {}
    assert privacy.worker_env(spec, "plain") == {}
