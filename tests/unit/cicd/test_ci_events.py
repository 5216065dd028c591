"""CI events as GitHub and GitLab send them (their documented example payloads, in
tests/data/webhooks, with the commit replaced), signed in the test: read as CI runs; a
forged signature or token is refused before anything is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comind.cicd.ci_events import ci_run
from comind.cicd.hooks import WebhookError, authenticate, github_signature

DATA = Path(__file__).parents[2] / "data" / "webhooks"
SHA = "a" * 40
SECRET = "hook-secret"


def payload(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / name).read_text())
    return doc


def github(event: str, doc: dict[str, Any], secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    body = json.dumps(doc).encode()
    return {"X-GitHub-Event": event, "X-Hub-Signature-256": github_signature(body, secret)}, body


def read(headers: dict[str, str], body: bytes) -> Any:
    provider, lowered = authenticate(headers, body, SECRET)
    return ci_run(provider, lowered, body)


def test_a_completed_workflow_run_is_a_run_of_its_workflow() -> None:
    doc = payload("github_workflow_run_completed.json")
    doc["workflow_run"]["head_sha"] = SHA
    run = read(*github("workflow_run", doc))
    assert (run.commit, run.provider, run.status) == (SHA, "github", "passed")
    assert run.pipeline == (doc["workflow_run"]["name"] or doc["workflow"]["name"])
    assert run.run_id == f"{doc['workflow_run']['id']}/{doc['workflow_run']['run_attempt']}"
    assert run.url == doc["workflow_run"]["html_url"] and run.started_at is not None
    doc["workflow_run"]["conclusion"] = "failure"
    assert read(*github("workflow_run", doc)).status == "failed"
    doc["workflow_run"]["status"], doc["workflow_run"]["conclusion"] = "in_progress", None
    assert read(*github("workflow_run", doc)).status == "running"


def test_a_check_suite_and_a_commit_status_are_runs_too() -> None:
    suite = payload("github_check_suite_completed.json")
    suite["check_suite"]["head_sha"] = SHA
    run = read(*github("check_suite", suite))
    assert (run.commit, run.status, run.run_id) == (SHA, "passed", str(suite["check_suite"]["id"]))
    status = payload("github_status.json")
    status["sha"], status["state"] = SHA, "failure"
    run = read(*github("status", status))
    assert (run.commit, run.status, run.pipeline) == (SHA, "failed", f"status {status['context']}")


def test_a_gitlab_pipeline_with_its_token() -> None:
    doc = payload("gitlab_pipeline.json")
    doc["object_attributes"]["sha"] = SHA
    body = json.dumps(doc).encode()
    headers = {"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": SECRET}
    run = read(headers, body)
    pipeline_id = str(doc["object_attributes"]["id"])
    assert (run.commit, run.provider, run.run_id) == (SHA, "gitlab", pipeline_id)
    assert run.status == "passed" and run.finished_at is not None  # "2016-08-12 15:26:29 UTC"
    with pytest.raises(WebhookError) as refused:
        read({**headers, "X-Gitlab-Token": "guess"}, body)
    assert refused.value.status == 401


def test_a_forged_signature_is_refused_and_other_events_are_no_runs() -> None:
    doc = payload("github_workflow_run_completed.json")
    headers, body = github("workflow_run", doc, secret="not-the-secret")
    with pytest.raises(WebhookError, match="does not match") as refused:
        read(headers, body)
    assert refused.value.status == 401
    assert read(*github("issues", {"action": "opened"})) is None
    doc["workflow_run"]["head_sha"] = "not-a-sha"
    with pytest.raises(WebhookError, match="not a commit SHA"):
        read(*github("workflow_run", doc))
