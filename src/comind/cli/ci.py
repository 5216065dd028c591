"""``comind ci ...``: report a commit's CI result from any CI (with its JUnit XML reports)
and show what the platform knows of a commit's CI, through the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.artifacts import push_file
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError

ci_cli = typer.Typer(help="CI results per commit: report one, show a commit's.",
                     no_args_is_help=True)  # fmt: skip
MAX_JUNIT_BYTES = 8 * 1024 * 1024  # all reports of one call together


Pipeline = Annotated[str, typer.Option(help="Which pipeline (its newest run decides).")]
RunId = Annotated[str | None, typer.Option(help="The CI's id of the run (reported again: "
                                                "the run is updated).")]  # fmt: skip
Junit = Annotated[list[Path] | None, typer.Option(help="A JUnit XML report (repeatable).",
                                                  exists=True, dir_okay=False)]  # fmt: skip
Artifacts = Annotated[list[Path] | None, typer.Option(
    "--artifact", help="A build output to push to the registry as FILENAME@<short SHA> "
    "(repeatable).", exists=True, dir_okay=False)]  # fmt: skip


@ci_cli.command("report")
def report(
    ctx: typer.Context,
    commit: Annotated[str, typer.Option(help="The full commit SHA the CI ran on.")],
    status: Annotated[str, typer.Option(help="passed, failed or running.")],
    pipeline: Pipeline = "report",
    run_id: RunId = None,
    url: Annotated[str | None, typer.Option(help="A link to the run.")] = None,
    junit: Junit = None,
    artifact: Artifacts = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a commit's CI result; a finished one lets a gated environment sync it."""
    if status not in ("passed", "failed", "running"):
        raise UsageError(f"--status {status}: expected passed, failed or running")
    reports = [p.read_bytes() for p in junit or []]
    if sum(len(r) for r in reports) > MAX_JUNIT_BYTES:
        raise UsageError("--junit: the reports are over 8 MiB together; send fewer at once")
    body = {"commit": commit.lower(), "status": status, "pipeline": pipeline, "run_id": run_id,
            "url": url, "junit": [r.decode(errors="replace") for r in reports]}  # fmt: skip
    built = {"commit": commit.lower(), "build": run_id}
    pushed = [push_file(ctx, _artifact_name(path), commit.lower()[:12], path, built)
              for path in artifact or []]  # fmt: skip
    done = call(ctx, "POST", "/api/v1/ci/reports", body=body, admin=True)  # locally: admin
    done["artifacts"] = pushed
    if as_json:
        emit_json(done)
        return
    console.print(f"{done['commit'][:12]} {pipeline}: {status} ({done['tests']} tests); "
                  f"{'green' if done['green'] else 'not green'}: {done['reason']}")  # fmt: skip


@ci_cli.command("show")
def show(
    ctx: typer.Context,
    commit: Annotated[str, typer.Argument(help="The full commit SHA.")],
    as_json: JsonOpt = False,
) -> None:
    """A commit's CI runs, the verdict a require_ci gate reads, failed and flaky tests."""
    doc = call(ctx, "GET", f"/api/v1/ci/commits/{commit.lower()}")
    if as_json:
        emit_json(doc)
        return
    console.print(f"{doc['commit'][:12]}: {'green' if doc['green'] else 'not green'} — "
                  f"{doc['reason']}")  # fmt: skip
    table = Table("pipeline", "run", "status", "tests", "finished", "url")
    for run in doc["runs"]:
        tests = run["tests"] or {}
        counted = f"{tests.get('tests', 0)} ({tests.get('failures', 0)} failed)" if tests else ""
        table.add_row(run["pipeline"], run["run_id"], run["status"], counted,
                      run["finished_at"] or "", run["url"] or "")  # fmt: skip
    console.print(table)
    for failure in doc["failures"]:
        console.print(f"  failed: {failure['suite']} {failure['name']}: {failure['message']}")
    for flaky in doc["flaky"]:
        console.print(f"  flaky: {flaky['suite']} {flaky['name']} (passed {flaky['passed']}, "
                      f"failed {flaky['failed']})")  # fmt: skip


def _artifact_name(path: Path) -> str:
    """A registry name from a file name: lower case, other characters as ``-``."""
    return re.sub(r"[^a-z0-9._-]", "-", path.name.lower()).lstrip("._-") or "artifact"
