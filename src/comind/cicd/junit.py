"""JUnit XML test reports (any CI's: pytest, JUnit, Go, Jest reporters) read into totals and
test cases with ``junitparser``. A report is untrusted input: its size is bounded before it
gets here, and a malformed one is refused with one line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal
from xml.etree.ElementTree import ParseError

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from comind.errors import UsageError

Outcome = Literal["passed", "failed", "error", "skipped"]
MAX_MESSAGE = 500  # characters of a failure's message kept


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    outcome: Outcome
    seconds: float
    message: str | None = None


@dataclass(frozen=True)
class Totals:
    tests: int
    failures: int
    errors: int
    skipped: int
    seconds: float

    def as_dict(self) -> dict[str, int | float]:
        return {"tests": self.tests, "failures": self.failures, "errors": self.errors,
                "skipped": self.skipped, "seconds": round(self.seconds, 3)}  # fmt: skip


def parse(report: bytes, origin: str) -> list[Case]:
    """The test cases of one JUnit XML document (``<testsuites>`` or one ``<testsuite>``)."""
    try:
        doc = JUnitXml.fromstring(report)
    except (ParseError, ValueError) as exc:
        raise UsageError(f"{origin}: not JUnit XML ({exc})") from None
    suites = [doc] if isinstance(doc, TestSuite) else list(doc)
    return [_case(suite, case) for suite in suites for case in suite]


def totals(cases: list[Case]) -> Totals:
    counts = Counter(c.outcome for c in cases)
    return Totals(len(cases), counts["failed"], counts["error"], counts["skipped"],
                  sum(c.seconds for c in cases))  # fmt: skip


def _case(suite: TestSuite, case: TestCase) -> Case:
    outcome: Outcome = "passed"
    message = None
    for result in case.result:
        if isinstance(result, Failure | Error):
            outcome = "failed" if isinstance(result, Failure) else "error"
            message = (result.message or result.text or "")[:MAX_MESSAGE] or None
            break
        if isinstance(result, Skipped):
            outcome = "skipped"
    name = f"{case.classname}.{case.name}" if case.classname else str(case.name)
    return Case(str(suite.name or ""), name, outcome, float(case.time or 0.0), message)
