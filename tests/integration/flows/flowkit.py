"""The flow kit: a spec written into a test's folder, a FlowBuilder over real engines,
and helpers to send records and read the app database."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.dba import dba

from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.pglookup import install_versioning
from comind.governance.keyring import Keyring
from comind.governance.privacy import DataKeyRef, PiiKeys
from comind.governance.sealbox import SealBox
from comind.governance.tokens import TokenVault
from comind.platform.privacy import encrypt_scopes
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.spec import Spec, load_spec
from comind.stores.postgres import PgTarget, connect

BASE = """
platform: {{name: t}}
apps:
  shop:
    run: "true"
    database: {{name: {db}}}
    bucket: {{name: lake}}
    cache: {{}}
    queues:
      orders: {{visibility_timeout: 5}}
      out: {{}}
datasets:
  shop.orders: {{store: postgres://shop/orders, schema: schemas/order.json{quality}}}
  shop.order_counts: {{store: postgres://shop/order_counts}}
  shop.daily: {{store: postgres://shop/daily}}
  shop.people:
    store: postgres://shop/people
    schema: schemas/order.json
    pii: {{email: hash, phone: mask, card: tokenize}}
topics:
  placed: {{subscribers: [shop/out]}}
"""


class FlowKit:
    def __init__(
        self, root: Path, layer: MessageLayer, engines: FlowEngines, app_db: PgTarget
    ) -> None:
        self.root, self.layer, self.engines, self.app_db = root, layer, engines, app_db

    def builder(
        self, flows: str, *, files: dict[str, str] | None = None, quality: str = ""
    ) -> FlowBuilder:
        """The spec with ``flows`` (YAML under ``flows:``) and the flows' queues created;
        ``quality``: the rules of the dataset shop.orders (a YAML flow sequence)."""
        for name, text in (files or {}).items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        doc = (
            BASE.format(db=self.app_db.dbname, quality=f", quality: {quality}" if quality else "")
            + "flows:\n"
            + textwrap.indent(textwrap.dedent(flows), "  ")
        )
        (self.root / "comind.yaml").write_text(doc)
        spec = load_spec(self.root)
        admin = self.layer.admin
        existing = set(admin.names())
        for name in (
            "shop/orders",
            "shop/out",
            *(f"_flows/{f}" for f in spec.flows),
            *(f"_flows/{f}-dlq" for f in spec.flows),
        ):
            if name not in existing:
                admin.create(name, {"VisibilityTimeout": "5"})
        if "placed" not in self.layer.topics.names():
            self.layer.topics.create("placed")
            self.layer.topics.subscribe("placed", "shop/out")
        return FlowBuilder(spec, self.root, self.engines)

    def send(self, queue: str, values: list[dict[str, object]]) -> None:
        messages = [OutgoingMessage(json.dumps(v)) for v in values]
        for i in range(0, len(messages), 10):
            self.layer.queues.send(queue, messages[i : i + 10])

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with dba(self.app_db) as conn:
            return conn.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        with dba(self.app_db) as conn:
            conn.execute(sql)

    def install_versioning(self, table: str) -> None:
        """The enrich table's version trigger, as the platform installs it when it
        provisions a flow that looks the table up."""
        with connect(self.app_db) as conn:
            install_versioning(conn, table, self.app_db.user)


def flow_pii_keys(layer: MessageLayer, root: Path, spec: Spec | None = None) -> PiiKeys:
    """The PII keys test flows protect with, as the platform hands them to its workers: a
    keyring of the test's own, the token vault's public key published, and the data keys of
    every scope ``spec``'s flows encrypt for."""
    ring = Keyring(root / ".keys")
    TokenVault(layer.pool, SealBox(ring.vault_key(), "token-vault")).publish()
    scopes = {s for f in spec.flows for s in encrypt_scopes(spec, f)} if spec else set()
    data = {s: DataKeyRef(k.id, k.key) for s in scopes for k in [ring.data_key(s)]}
    return PiiKeys(ring.hmac_key(), data)
