"""CI runs per commit in PostgreSQL: the newest run of each pipeline decides the verdict a
require_ci gate reads; a run reported again is updated; a test that passed in one run of a
commit and failed in another is flaky."""

from __future__ import annotations

import pytest

from comind.cicd.junit import parse
from comind.cicd.runs import CiRecords, CiRun
from comind.stores.postgres import PgTarget, make_pool

SHA = "b" * 40


def junit(outcome: str) -> bytes:
    body = {"passed": "", "failed": '<failure message="boom"/>'}[outcome]
    return (f'<testsuite name="api"><testcase classname="t" name="stable" time="1"/>'
            f'<testcase classname="t" name="wobbly" time="2">{body}</testcase>'
            f"</testsuite>").encode()  # fmt: skip


@pytest.fixture
def records(pg: PgTarget) -> CiRecords:
    return CiRecords(make_pool(pg, max_size=2))


def test_the_newest_run_of_each_pipeline_decides(records: CiRecords) -> None:
    assert records.verdict(SHA).reason == "no CI result reported for it yet"
    records.record(CiRun(SHA, "github", "build", "1/1", "running"))
    assert records.verdict(SHA).reason == "CI is still running: build"
    records.record(CiRun(SHA, "github", "build", "1/1", "failed", url="https://ci/1"))
    records.record(CiRun(SHA, "gitlab", "deploy-checks", "7", "passed"))
    verdict = records.verdict(SHA)
    assert (verdict.green, verdict.reason) == (False, "CI failed: build")
    assert len(records.runs(SHA)) == 2  # the run reported again was updated, not added
    records.record(CiRun(SHA, "github", "build", "1/2", "passed"))  # a re-run attempt
    assert records.verdict(SHA).green


def test_a_test_passing_in_one_run_and_failing_in_another_is_flaky(records: CiRecords) -> None:
    other = "c" * 40
    records.record(CiRun(other, "report", "unit", "r1", "failed",
                         cases=parse(junit("failed"), "r1")))  # fmt: skip
    records.record(CiRun(other, "report", "unit", "r2", "passed",
                         cases=parse(junit("passed"), "r2")))  # fmt: skip
    found = records.tests(other)
    assert [(f["name"], f["message"]) for f in found["failures"]] == [("t.wobbly", "boom")]
    assert [(f["name"], f["passed"], f["failed"]) for f in found["flaky"]] == [("t.wobbly", 1, 1)]
    newest = records.runs(other)[0]
    assert newest["tests"] == {"tests": 2, "failures": 0, "errors": 0, "skipped": 0,
                               "seconds": 3.0}  # fmt: skip
