"""The control API the CLI calls, over the running platform: roles and app scopes on the new
routes, tokens answered once and stored hashed, every change audited by the platform, and
request bodies bounded."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tests.dead_letters import queue_with_dlq
from tests.hidden import Hidden, HiddenHeaders, bearer, builtin_headers

from comind.api.tokens import ANONYMOUS_PER_MINUTE, Tokens
from comind.governance.access import AccessStore
from comind.observe.metrics import REGISTRY
from comind.platform import Platform
from comind.queue.layer import MessageLayer
from comind.queue.model import Attribute, OutgoingMessage


def admin(runtime: Platform) -> HiddenHeaders:
    return builtin_headers(runtime.engines.home, "admin")


def token(layer: MessageLayer, role: str, app: str | None = None) -> HiddenHeaders:
    return bearer(AccessStore(layer.pool).create(role, app=app)[1])


def audited(layer: MessageLayer, target: str) -> list[tuple[str, str]]:
    rows = AccessStore(layer.pool).recent_audit(200)
    return [(r[3], r[5]) for r in rows if r[4] == target]


def test_an_app_operator_sends_and_purges_its_own_queues_only(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    mine, theirs = f"{app}/jobs", f"{app}x/jobs"
    for name in (mine, theirs):
        queue_with_dlq(layer, name)
    operator = token(layer, "operator", app)
    url = f"{runtime.url}/api/v1/queues"
    sent = httpx.post(f"{url}/{mine}/messages", json={"body": "hello"}, headers=operator)
    assert sent.status_code == 200 and sent.json()["queue"] == mine
    stats = httpx.get(f"{url}/{mine}/stats", headers=operator).json()
    assert stats["depth"]["visible"] == 1
    assert httpx.post(f"{url}/{theirs}/purge", headers=operator).status_code == 403
    purged = httpx.post(f"{url}/{mine}/purge", headers=operator)
    assert purged.json() == {"queue": mine, "purged": 1}
    assert audited(layer, mine) == [("queue-purge", "accepted"), ("queue-send", "accepted")]
    assert audited(layer, theirs) == [("queue-purge", "refused")]


def test_a_peeked_binary_attribute_is_answered_in_base64(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    queue = f"{app}/jobs"
    queue_with_dlq(layer, queue)
    attrs = {"blob": Attribute("Binary", binary_value=b"\x00\xffraw")}
    layer.queues.send(queue, [OutgoingMessage(body="with bytes", attributes=attrs)])
    peeked = httpx.get(f"{runtime.url}/api/v1/queues/{queue}/messages", headers=admin(runtime))
    assert peeked.status_code == 200, peeked.text
    [message] = peeked.json()["messages"]
    assert message["attributes"]["blob"] == {
        "data_type": "Binary",
        "string_value": None,
        "binary_value": "AP9yYXc=",
    }


def test_moves_are_started_and_followed(runtime: Platform, layer: MessageLayer, app: str) -> None:
    jobs, other = f"{app}/jobs", f"{app}/other"
    dlq = queue_with_dlq(layer, jobs)
    queue_with_dlq(layer, other)
    layer.queues.send(dlq, [OutgoingMessage(body="back")])
    url = f"{runtime.url}/api/v1/queues/{dlq}/moves"
    started = httpx.post(url, json={"to": other, "rate": 10}, headers=admin(runtime))
    assert started.status_code == 202, started.text
    task = started.json()
    assert (task["destination"], task["max_per_second"], task["to_move"]) == (other, 10, 1)
    listed = httpx.get(url, headers=admin(runtime)).json()["moves"]
    assert [t["task"] for t in listed] == [task["task"]]
    bad = httpx.post(url, json={"rate": 501}, headers=admin(runtime))
    assert (bad.status_code, bad.json()["error"]) == (400, "rate must be between 1 and 500")


def test_an_app_operator_moves_messages_into_its_own_queues_only(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    mine, theirs = f"{app}/jobs", f"{app}x/jobs"
    dlq = queue_with_dlq(layer, mine)
    queue_with_dlq(layer, theirs)
    layer.queues.send(dlq, [OutgoingMessage(body="forged")])
    operator = token(layer, "operator", app)
    url = f"{runtime.url}/api/v1/queues/{dlq}/moves"
    refused = httpx.post(url, json={"to": theirs}, headers=operator)
    assert refused.status_code == 403 and theirs in refused.json()["error"]
    assert layer.queues.stats(theirs).visible == 0 and layer.queues.stats(dlq).visible == 1
    assert audited(layer, dlq) == [("queue-move", "refused")]
    assert httpx.post(url, json={"to": mine}, headers=operator).status_code == 202


def test_tokens_are_for_admins_and_shown_once(runtime: Platform, layer: MessageLayer) -> None:
    url = f"{runtime.url}/api/v1/tokens"
    assert httpx.get(url, headers=token(layer, "operator")).status_code == 403
    made = httpx.post(url, json={"role": "viewer", "expires": "1h"}, headers=admin(runtime))
    assert made.status_code == 201
    doc: dict[str, Any] = made.json()
    secret = Hidden(doc["token"])
    listed = httpx.get(url, headers=admin(runtime))
    assert secret not in listed.text and doc["id"] in listed.text
    assert httpx.get(f"{runtime.url}/api/v1/queues", headers=bearer(secret)).status_code == 200
    revoked = httpx.post(f"{url}/{doc['id']}/revoke", headers=admin(runtime))
    assert revoked.json() == {"id": doc["id"], "revoked": True}
    assert httpx.get(f"{runtime.url}/api/v1/queues", headers=bearer(secret)).status_code == 401
    entries = httpx.get(f"{runtime.url}/api/v1/audit?limit=200", headers=admin(runtime))
    mine = [e for e in entries.json()["entries"] if e["target"] == doc["id"]]
    assert [(e["action"], e["outcome"], e["actor"]) for e in mine] == [
        ("token-revoke", "accepted", "builtin-admin"),
        ("token-create", "accepted", "builtin-admin"),
    ]
    assert secret not in entries.text  # the audit log never holds a token
    unknown_role = httpx.post(url, json={"role": "root"}, headers=admin(runtime))
    assert unknown_role.status_code == 400


def test_logs_of_an_app_for_its_token_only(runtime: Platform, layer: MessageLayer) -> None:
    viewer = token(layer, "viewer", "shop")
    url = f"{runtime.url}/api/v1/logs"
    assert httpx.get(url, params={"app": "shop"}, headers=viewer).status_code == 200
    assert httpx.get(url, headers=viewer).status_code == 403  # the platform's own log
    assert httpx.get(url, params={"app": "books"}, headers=viewer).status_code == 403
    bad = httpx.get(url, params={"since": "soon"}, headers=admin(runtime))
    assert (bad.status_code, bad.json()["error"]) == (
        400,
        "since soon: expected a duration like 10m, 2h or 1d",
    )


def test_an_unknown_apps_environment_is_a_404_and_audited(
    runtime: Platform, layer: MessageLayer
) -> None:
    name = f"nope{uuid.uuid4().hex[:6]}"
    answer = httpx.get(f"{runtime.url}/api/v1/apps/{name}/env", headers=admin(runtime))
    assert answer.status_code == 404
    assert answer.json()["error"].startswith(f"no app '{name}' in the running platform")
    assert audited(layer, name) == [("read-secrets", "failed")]
    viewer = bearer(runtime.engines.home.secret("api-viewer-token"))
    assert httpx.get(f"{runtime.url}/api/v1/apps/{name}/env", headers=viewer).status_code == 403


def test_request_bodies_are_bounded(runtime: Platform) -> None:
    big = {"role": "viewer", "padding": "x" * 70_000}
    refused = httpx.post(f"{runtime.url}/api/v1/tokens", json=big, headers=admin(runtime))
    assert refused.status_code == 413
    # who asks is known before the body is read: an anonymous caller is refused first
    anonymous = httpx.post(f"{runtime.url}/api/v1/tokens", json=big)
    assert anonymous.status_code == 401


def test_a_change_takes_its_values_from_its_body_only(
    runtime: Platform, layer: MessageLayer
) -> None:
    made = httpx.post(f"{runtime.url}/api/v1/tokens?role=admin", json={"role": "viewer"},
                      headers=admin(runtime))  # fmt: skip
    assert made.status_code == 201 and made.json()["role"] == "viewer"
    assert AccessStore(layer.pool).revoke(made.json()["id"])


def test_a_long_audit_target_is_cut(runtime: Platform, layer: MessageLayer) -> None:
    name = "x" * 5000
    httpx.post(f"{runtime.url}/api/v1/backups/restore-points", json={"name": name},
               headers=admin(runtime))  # fmt: skip
    rows = [r for r in AccessStore(layer.pool).recent_audit(50) if r[3] == "restore-point"]
    assert rows and len(rows[0][4]) == 200 and rows[0][4].endswith("…")


def test_a_flood_of_anonymous_refusals_does_not_fill_the_audit_log(layer: MessageLayer) -> None:
    """Anyone who reaches the port can be refused: each refusal was an audit row. (A Tokens of
    its own, on the platform's database: the platform's budget stays for the other tests.)"""
    tokens = Tokens(admin="a" * 32, viewer="v" * 32, store=AccessStore(layer.pool))
    target = f"flood{uuid.uuid4().hex[:6]}/q"
    skipped = REGISTRY.get_sample_value("comind_audit_anonymous_skipped_total") or 0.0
    sent = 2 * ANONYMOUS_PER_MINUTE + 30  # more than two minutes' budget: some never written
    for _ in range(sent):
        tokens.audit(None, "queue-purge", target, "refused")
    written = len(audited(layer, target))
    assert written <= 2 * ANONYMOUS_PER_MINUTE
    now_skipped = REGISTRY.get_sample_value("comind_audit_anonymous_skipped_total") or 0.0
    assert now_skipped - skipped == sent - written
