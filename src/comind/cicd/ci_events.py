"""CI events of authentic webhooks read as CI runs: GitHub ``workflow_run``, ``check_suite``
and ``status``; GitLab ``Pipeline Hook``. Any other event is not a CI event (None); a CI
event without a commit SHA or a status is a 400."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from comind.cicd.hooks import Provider, WebhookError, load
from comind.cicd.runs import CiRun, Status

SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
PASSED = {"success", "neutral", "skipped"}  # GitHub conclusions, GitLab statuses that pass
FAILED = {"failure", "cancelled", "canceled", "timed_out", "action_required", "startup_failure",
          "stale", "failed", "error"}  # fmt: skip
STATES: dict[str, Status] = {"success": "passed", "pending": "running", "failure": "failed",
                             "error": "failed"}  # GitHub commit status states  # fmt: skip


def ci_run(provider: Provider, headers: Mapping[str, str], body: bytes) -> CiRun | None:
    """The CI run an authentic request reports (``headers`` lower-cased), None for an
    event that is no CI result."""
    if provider == "github":
        event = headers.get("x-github-event", "").strip()
        read = {"workflow_run": _workflow_run, "check_suite": _check_suite, "status": _status}
        return read[event](load(body)) if event in read else None
    if headers.get("x-gitlab-event", "").strip() != "Pipeline Hook":
        return None
    return _gitlab_pipeline(load(body))


def _workflow_run(payload: dict[str, Any]) -> CiRun:
    run = _object(payload, "workflow_run")
    name = run.get("name") or _mapping(payload, "workflow").get("name")
    status = _github_status(run.get("status"), run.get("conclusion"))
    return _github(run, "head_sha", str(name or f"workflow {run.get('workflow_id')}"),
                   f"{run.get('id')}/{run.get('run_attempt') or 1}", status, "html_url",
                   "run_started_at")  # fmt: skip


def _check_suite(payload: dict[str, Any]) -> CiRun:
    suite = _object(payload, "check_suite")
    status = _github_status(suite.get("status"), suite.get("conclusion"))
    return _github(suite, "head_sha", f"check suite {_mapping(suite, 'app').get('name')}",
                   str(suite.get("id")), status, "url", "created_at")  # fmt: skip


def _status(payload: dict[str, Any]) -> CiRun:
    status = STATES.get(str(payload.get("state")))
    if status is None:
        raise WebhookError(f"malformed status event: state {payload.get('state')!r}", status=400)
    context = str(payload.get("context") or "default")
    return _github(payload, "sha", f"status {context}", context, status, "target_url",
                   "created_at")  # fmt: skip


def _github(event: Mapping[str, Any], sha: str, pipeline: str, run_id: str, status: Status,
            url: str, started: str) -> CiRun:  # fmt: skip
    """A GitHub run, finished at its last update unless it still runs (the fields named)."""
    finished = _time(event.get("updated_at")) if status != "running" else None
    return CiRun(_sha(event.get(sha)), "github", pipeline, run_id, status, _text(event.get(url)),
                 _time(event.get(started)), finished)  # fmt: skip


def _gitlab_pipeline(payload: dict[str, Any]) -> CiRun:
    pipeline = _object(payload, "object_attributes")
    name = pipeline.get("name") or _mapping(payload, "project").get("path_with_namespace")
    raw = str(pipeline.get("status"))
    status: Status = "passed" if raw in PASSED else "failed" if raw in FAILED else "running"
    return CiRun(_sha(pipeline.get("sha")), "gitlab", str(name or "pipeline"),
                 str(pipeline.get("id")), status, _text(pipeline.get("url")),
                 _time(pipeline.get("created_at")), _time(pipeline.get("finished_at")))  # fmt: skip


def _github_status(status: Any, conclusion: Any) -> Status:
    if status != "completed":
        return "running"
    if conclusion in PASSED:
        return "passed"
    if conclusion in FAILED:
        return "failed"
    raise WebhookError(f"malformed CI event: conclusion {conclusion!r}", status=400)


def _mapping(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional object of the payload ({} when absent or not an object)."""
    found = payload.get(key)
    return found if isinstance(found, dict) else {}


def _object(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    found = payload.get(key)
    if not isinstance(found, dict):
        raise WebhookError(f"malformed CI event: {key!r} is missing", status=400)
    return found


def _sha(value: Any) -> str:
    sha = str(value or "").lower()
    if not SHA.fullmatch(sha):
        raise WebhookError(f"malformed CI event: {value!r} is not a commit SHA", status=400)
    return sha


def _text(value: Any) -> str | None:
    return str(value)[:2000] if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    """ISO 8601 (GitHub) or GitLab's ``2016-08-12 15:23:28 UTC``; None when absent or
    unreadable (times are informative)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace(" UTC", "+00:00").replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
