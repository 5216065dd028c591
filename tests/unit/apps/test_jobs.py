"""One-shot processes (apps/jobs.py): an operator's flow job runs in a process of the flow's,
given its job on standard input, and only its answer comes back; what the app's code prints
goes to the log, never into the answer; a job that outlives its timeout is killed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from comind.apps.jobs import run_once
from comind.apps.logs import AppLog
from comind.apps.model import AppSpec

SECRET = "s3cr3t-value-that-must-not-show"
SCRIPT = """
import json, os, sys
job = json.load(sys.stdin)
answer = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
print("the app's code talks, with", os.environ["TOKEN"])
if job.get("fail"):
    sys.exit("error: it went wrong")
if job.get("sleep"):
    import time; time.sleep(60)
answer.write(json.dumps({"doubled": job["n"] * 2}))
"""


def _spec(tmp_path: Path) -> AppSpec:
    (tmp_path / "job.py").write_text(SCRIPT)
    return AppSpec(name="flow.x.job", command=f"{sys.executable} job.py", cwd=tmp_path,
                   env={"TOKEN": SECRET}, revision="r1", account="flow.x")  # fmt: skip


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AppLog]:
    log = AppLog(tmp_path / "job.log")
    yield log
    log.close()


def test_the_job_reads_its_input_and_only_its_answer_comes_back(
    tmp_path: Path, log: AppLog
) -> None:
    done = run_once(None, _spec(tmp_path), b'{"n": 21}', log, timeout=30)
    assert (done.code, done.answer) == (0, b'{"doubled": 42}')
    written = log.path.read_text()
    assert "the app's code talks" in written and SECRET not in written  # the log, scrubbed


def test_a_failed_job_quotes_its_error_with_secrets_scrubbed(tmp_path: Path, log: AppLog) -> None:
    done = run_once(None, _spec(tmp_path), b'{"fail": true}', log, timeout=30)
    assert done.code == 1 and done.answer == b""
    assert "error: it went wrong" in done.tail and SECRET not in done.tail


def test_a_job_past_its_timeout_is_killed(tmp_path: Path, log: AppLog) -> None:
    done = run_once(None, _spec(tmp_path), b'{"sleep": true}', log, timeout=1)
    assert done.code < 0 and done.answer == b""
