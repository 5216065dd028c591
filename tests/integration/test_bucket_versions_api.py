"""A versioned bucket's versions through the API: an operator of the bucket's app lists them
and restores one (audited); a viewer or another app's operator is refused; the retention
sweep removes what the bucket's ``versions:`` rule says, and counts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from comind.api.buckets import BucketsApi
from comind.api.guard import Guard
from comind.api.server import ApiServer
from comind.api.session import Sessions
from comind.api.tokens import Tokens
from comind.embedded.ports import free_port
from comind.governance.access import AccessStore
from comind.governance.keyring import Keyring
from comind.observe.metrics import REGISTRY
from comind.platform import Platform
from comind.platform.versions import BucketVersions
from comind.stores.objects import FileObjectStore

OWNERS = {"ver-docs": "ver-shop", "ver-flat": "ver-shop"}
RULE = {"versioning": True, "encrypted": True, "versions": {"keep_for": 60, "keep_newest": 1}}
Served = tuple[httpx.Client, FileObjectStore, dict[str, dict[str, str]]]


@pytest.fixture
def served(runtime: Platform, tmp_path: Path) -> Iterator[Served]:
    store = FileObjectStore(tmp_path / "objects", Keyring(tmp_path / "secrets"))
    for bucket in OWNERS:
        store.create_bucket(bucket)
    store.configure_bucket("ver-docs", RULE)
    assert runtime.messages is not None
    access = AccessStore(runtime.messages.pool)
    tokens = Tokens(admin="adm", viewer="view", store=access, sessions=Sessions(b"s" * 32))
    api = BucketsApi(BucketVersions(store), OWNERS.get, Guard(tokens))
    who = {"admin": "adm", "viewer": "view",
           "operator": access.create("operator", app="ver-shop")[1],
           "other": access.create("operator", app="ver-billing")[1]}  # fmt: skip
    server = ApiServer(Starlette(routes=api.routes()), host="127.0.0.1",
                       port=free_port("127.0.0.1"))  # fmt: skip
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            yield client, store, {k: {"Authorization": f"Bearer {t}"} for k, t in who.items()}
    finally:
        server.stop()


def test_an_operator_lists_and_restores_a_version_others_are_refused(
    runtime: Platform, served: Served
) -> None:
    client, store, who = served
    good = store.put("ver-docs", "report.csv", b"good")
    store.put("ver-docs", "report.csv", b"broken")
    listed = client.get("/api/v1/buckets/ver-docs/versions", headers=who["operator"]).json()
    assert [(v["size"], v["latest"]) for v in listed["versions"]] == [(6, True), (4, False)]
    body = {"key": "report.csv", "version_id": good.version_id}
    refused = [client.post("/api/v1/buckets/ver-docs/restore", json=body, headers=who[w])
               for w in ("viewer", "other")]  # fmt: skip
    assert [r.status_code for r in refused] == [403, 403]
    assert store.get("ver-docs", "report.csv") == b"broken"
    done = client.post("/api/v1/buckets/ver-docs/restore", json=body, headers=who["operator"])
    assert done.status_code == 200 and done.json()["latest"] is True
    assert store.get("ver-docs", "report.csv") == b"good"
    missing = client.post("/api/v1/buckets/ver-docs/restore", headers=who["operator"],
                          json={**body, "version_id": "0" * 32})  # fmt: skip
    assert missing.status_code == 404 and "no version" in missing.json()["error"]
    flat = client.get("/api/v1/buckets/ver-flat/versions", headers=who["operator"])
    assert flat.status_code == 409 and "not versioned" in flat.json()["error"]
    unknown = client.get("/api/v1/buckets/ver-nope/versions", headers=who["admin"])
    assert unknown.status_code == 404
    assert (
        client.get("/api/v1/buckets/ver-nope/versions", headers=who["operator"]).status_code == 403
    )
    assert runtime.messages is not None
    with runtime.messages.pool.connection() as conn:
        audit = conn.execute("SELECT outcome, target FROM comind.audit_log WHERE action = "
                             "'object-restore' AND target LIKE 'ver-docs%' "
                             "ORDER BY id").fetchall()  # fmt: skip
    assert [a[0] for a in audit] == ["refused", "refused", "accepted", "failed"]


def test_the_sweep_keeps_what_the_rule_says(
    served: Served,
) -> None:
    _, store, _ = served
    for n in range(4):
        store.put("ver-docs", "log.txt", b"x" * (n + 1))
    store.put("ver-flat", "log.txt", b"once")
    before = REGISTRY.get_sample_value("comind_object_versions_expired_total",
                                       {"bucket": "ver-docs"}) or 0.0  # fmt: skip
    versions = BucketVersions(store)
    assert versions.sweep() == 0  # replaced less than keep_for (60 s) ago
    assert versions.sweep(now=2**62) == 2  # all old: only the newest replaced one stays
    sizes = [v.info.size for v in store.versions("ver-docs", "log.txt")]
    assert sizes == [4, 3]
    after = REGISTRY.get_sample_value("comind_object_versions_expired_total",
                                      {"bucket": "ver-docs"})  # fmt: skip
    assert after == before + 2
