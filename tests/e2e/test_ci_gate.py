"""Issue 18's gate on the example: its stage environment says `sync.require_ci: true`. A commit
without CI, then with a failing CI report, does not reach stage (the history says why, a
metric counts it); the same commit reported passing syncs; a forged GitHub CI webhook is
refused; the commit's runs and failed tests show in `comind ci show`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.test_shop_flows import shop_copy
from tests.gitrepo import git
from tests.waiting import wait_until

from comind.cicd.hooks import github_signature

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
DATA = Path(__file__).parents[1] / "data" / "webhooks"
FAILING = """<testsuites><testsuite name="shop">
<testcase classname="orders.test_api" name="test_totals" time="0.2"/>
<testcase classname="orders.test_api" name="test_refunds" time="0.4">
<failure message="expected 3, got 2">assert 3 == 2</failure></testcase>
</testsuite></testsuites>"""


def syncs(comind: Run) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(comind("history", "--json", check=True).stdout)
    return found


def newest_says(comind: Run, outcome: str, words: str) -> bool:
    return any(s["outcome"] == outcome and words in s["message"] for s in syncs(comind)[:1])


def test_stage_takes_only_a_commit_whose_ci_passed(comind: Run, home: Path, tmp_path: Path) -> None:
    repo = shop_copy(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop")
    sha = git(repo, "rev-parse", "HEAD")
    comind("up", "--repo", str(repo), "--env", "stage", "--detach", "--api-port", "0",
           timeout=300, check=True)  # fmt: skip
    assert wait_until(lambda: newest_says(comind, "Refused", "no CI result"), 60), syncs(comind)

    report = tmp_path / "junit.xml"
    report.write_text(FAILING)
    comind("ci", "report", "--commit", sha, "--status", "failed", "--junit", str(report),
           check=True)  # fmt: skip
    assert wait_until(lambda: newest_says(comind, "Refused", "CI failed: report"), 60)
    state = json.loads((home / "state.json").read_text())
    viewer = (home / "secrets" / "api-viewer-token").read_text().strip()
    metrics = httpx.get(state["metrics_url"], headers={"Authorization": f"Bearer {viewer}"}).text
    assert 'comind_gitops_gate_refusals_total{env="stage",gate="ci"}' in metrics
    assert not any(s["outcome"] == "Succeeded" for s in syncs(comind))  # stage kept nothing

    forged = {"X-GitHub-Event": "workflow_run", "X-Hub-Signature-256": "sha256=" + "0" * 64}
    body = json.dumps({"action": "completed", "workflow_run": {"head_sha": sha}}).encode()
    refused = httpx.post(f"{state['api_url']}/api/v1/hooks/git", content=body, headers=forged)
    assert refused.status_code == 401
    # GitHub's documented workflow_run event for this commit, signed with the secret
    run = json.loads((DATA / "github_workflow_run_completed.json").read_text())
    run["workflow_run"]["head_sha"] = sha
    body = json.dumps(run).encode()
    secret = (home / "secrets" / "webhook-secret").read_text().strip()
    signed = {"X-GitHub-Event": "workflow_run",
              "X-Hub-Signature-256": github_signature(body, secret)}  # fmt: skip
    accepted = httpx.post(f"{state['api_url']}/api/v1/hooks/git", content=body, headers=signed)
    assert accepted.status_code == 202 and accepted.json()["ci"]["status"] == "passed"
    assert wait_until(lambda: newest_says(comind, "Refused", "CI failed: report"), 60)

    comind("ci", "report", "--commit", sha, "--status", "passed", check=True)
    assert wait_until(lambda: newest_says(comind, "Succeeded", ""), 180), syncs(comind)[:2]
    assert syncs(comind)[0]["revision"] == sha
    shown = json.loads(comind("ci", "show", sha, "--json", check=True).stdout)
    assert shown["green"] is True
    assert [(r["provider"], r["status"]) for r in shown["runs"]] == [
        ("report", "passed"), ("github", "passed"), ("report", "failed")]  # fmt: skip
    assert [(f["name"], f["message"]) for f in shown["failures"]] == [
        ("orders.test_api.test_refunds", "expected 3, got 2")]  # fmt: skip

    # the deployment as data: commit -> CI -> sync -> health, and the DORA metrics
    (deployed,) = json.loads(comind("deploy", "log", "--json", check=True).stdout)
    assert (deployed["revision"], deployed["outcome"], deployed["env"]) == (sha, "Succeeded",
                                                                             "stage")  # fmt: skip
    assert deployed["ci"]["green"] is True and deployed["committed_at"]
    assert (deployed["ci"]["tests"]["tests"], deployed["ci"]["tests"]["failures"]) == (2, 1)
    dora = json.loads(comind("deploy", "dora", "--json", check=True).stdout)
    assert dora["deployments"] == 1 and dora["lead_time_seconds"] > 0
    assert dora["change_failure_rate"] == 0
    metrics = httpx.get(state["metrics_url"], headers={"Authorization": f"Bearer {viewer}"}).text
    assert 'comind_dora_deployments_per_day{env="stage"}' in metrics
    assert 'comind_deployments_total{env="stage",outcome="Succeeded"} 1.0' in metrics

    # promotion through Git: the branch moves on (no CI for it: its head would be refused);
    # stage pinned to `sha` in its overlay syncs `sha`, whatever the branch's head
    (repo / "NOTES.md").write_text("the next change\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "next")
    promoted = json.loads(comind("promote", "--from", "dev", "--to", "stage", "--commit", sha,
                                 "--repo", str(repo), "--json", check=True).stdout)  # fmt: skip
    assert git(repo, "log", "-1", "--format=%s") == f"promote {sha[:12]} from dev to stage"
    comind("sync", check=True)
    newest = syncs(comind)[0]
    assert (newest["revision"], newest["outcome"]) == (sha, "Succeeded"), newest
    assert f"pinned at {promoted['commit'][:12]}" in newest["trigger"]
    # --from: what the platform runs there now (stage: `sha`), pinned in prod's overlay
    comind("promote", "--from", "stage", "--to", "prod", "--repo", str(repo), check=True)
    overlay = (repo / "environments" / "prod.yaml").read_text()
    assert overlay.startswith("# Production") and f"prod:\n    revision: {sha}\n" in overlay

    # the example's versioned bucket through the CLI (operators: the local admin token)
    listed = json.loads(comind("bucket", "versions", "orders-files", "--json", check=True).stdout)
    assert listed == {"bucket": "orders-files", "versions": [], "truncated": False}
    missing = comind("bucket", "restore", "orders-files", "a.txt", "--version", "0" * 32)
    assert missing.returncode == 2 and "no version" in missing.stderr

    # artifacts: a CI report pushes the build's output; the same bytes again are stored once;
    # the one built from the commit stage runs is marked deployed (retention keeps it)
    built = tmp_path / "orders.tar.gz"
    built.write_bytes(b"the orders build " * 1000)
    comind("ci", "report", "--commit", sha, "--status", "passed", "--artifact", str(built),
           check=True)  # fmt: skip
    again = json.loads(comind("artifact", "push", "orders-copy", "2.0", str(built), "--json",
                              check=True).stdout)  # fmt: skip
    assert again["stored"] is False
    listed = json.loads(comind("artifact", "ls", "--json", check=True).stdout)
    assert {(a["name"], a["version"], a["deployed"]) for a in listed} == {
        ("orders.tar.gz", sha[:12], True), ("orders-copy", "2.0", False)}  # fmt: skip
    assert len({a["digest"] for a in listed}) == 1
    comind("artifact", "pull", "orders.tar.gz", sha[:12], "-o", str(tmp_path / "back"),
           check=True)  # fmt: skip
    assert (tmp_path / "back").read_bytes() == built.read_bytes()
