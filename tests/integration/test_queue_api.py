"""The queues API over the running platform: depths and dead-letter counts, a DLQ peeked
without consuming it, redrive for operators only (audited either way), app scoping."""

from __future__ import annotations

from typing import Any

import httpx
from tests.dead_letters import dead_letter, queue_with_dlq
from tests.hidden import HiddenHeaders, bearer, builtin_headers
from tests.waiting import wait_until

from comind.governance.access import AccessStore
from comind.platform import Platform
from comind.queue.layer import MessageLayer


def admin(runtime: Platform) -> HiddenHeaders:
    return builtin_headers(runtime.engines.home, "admin")


def viewer(runtime: Platform) -> HiddenHeaders:
    return builtin_headers(runtime.engines.home, "viewer")


def audited(layer: MessageLayer, target: str) -> list[tuple[str, str]]:
    rows = AccessStore(layer.pool).recent_audit(200)
    return [(r[3], r[5]) for r in rows if r[4] == target]


def listing(runtime: Platform, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    resp = httpx.get(f"{runtime.url}/api/v1/queues", headers=headers)
    assert resp.status_code == 200, resp.text
    return {q["queue"]: q for q in resp.json()["queues"]}


def test_queues_list_depths_and_dead_letters(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    jobs = f"{app}/jobs"
    dlq = queue_with_dlq(layer, jobs)
    dead_letter(layer, jobs, "poison")
    dead_letter(layer, jobs, "poison too")
    found = listing(runtime, viewer(runtime))
    assert found[jobs]["dead_letter_queue"] == dlq
    assert found[jobs]["dead_letters"] == 2
    assert (found[jobs]["visible"], found[jobs]["in_flight"]) == (0, 0)
    assert found[dlq]["visible"] == 2 and found[dlq]["dead_letter_queue"] is None
    assert httpx.get(f"{runtime.url}/api/v1/queues").status_code == 401


def test_peeking_a_dlq_consumes_nothing(runtime: Platform, layer: MessageLayer, app: str) -> None:
    jobs = f"{app}/jobs"
    dlq = queue_with_dlq(layer, jobs)
    dead_letter(layer, jobs, '{"order": 1}')
    url = f"{runtime.url}/api/v1/queues/{jobs}/dlq"
    for _ in range(2):
        doc = httpx.get(url, headers=viewer(runtime)).json()
        [message] = doc["messages"]
        assert doc["dead_letter_queue"] == dlq
        assert message["body"] == '{"order": 1}'
        assert message["dead_letter"]["source_queue"] == jobs
    assert layer.queues.stats(dlq).visible == 1
    missing = httpx.get(f"{runtime.url}/api/v1/queues/{app}/nope/dlq", headers=viewer(runtime))
    assert missing.status_code == 404
    no_dlq = httpx.get(f"{runtime.url}/api/v1/queues/{dlq}/dlq", headers=viewer(runtime))
    assert (no_dlq.status_code, no_dlq.json()["error"]) == (
        409,
        f"queue {dlq} has no dead-letter queue",
    )


def test_redrive_needs_an_operator_and_is_audited(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    jobs = f"{app}/jobs"
    dlq = queue_with_dlq(layer, jobs)
    dead_letter(layer, jobs, "fixed now")
    url = f"{runtime.url}/api/v1/queues/{jobs}/redrive"
    assert httpx.post(url, headers=viewer(runtime)).status_code == 403
    assert httpx.post(url).status_code == 401
    assert layer.queues.stats(dlq).visible == 1  # refused: nothing moved
    started = httpx.post(url, headers=admin(runtime))
    assert started.status_code == 202, started.text
    assert started.json()["to_move"] == 1 and started.json()["dead_letter_queue"] == dlq
    assert wait_until(lambda: layer.queues.stats(jobs).visible == 1, 10)
    assert layer.queues.stats(dlq).visible == 0
    assert audited(layer, jobs) == [("redrive", "accepted"), ("redrive", "refused"),
                                    ("redrive", "refused")]  # fmt: skip


def test_an_app_token_sees_and_redrives_its_own_queues_only(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    mine, theirs = f"{app}/jobs", f"{app}x/jobs"
    for name in (mine, theirs):
        queue_with_dlq(layer, name)
        dead_letter(layer, name, "poison")
    _, token = AccessStore(layer.pool).create("operator", app=app)
    found = listing(runtime, bearer(token))
    assert set(found) == {mine, f"{mine}-dlq"}
    assert httpx.get(f"{runtime.url}/api/v1/queues/{theirs}/dlq",
                     headers=bearer(token)).status_code == 403  # fmt: skip
    refused = httpx.post(f"{runtime.url}/api/v1/queues/{theirs}/redrive", headers=bearer(token))
    assert refused.status_code == 403
    accepted = httpx.post(f"{runtime.url}/api/v1/queues/{mine}/redrive", headers=bearer(token))
    assert accepted.status_code == 202
