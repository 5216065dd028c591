"""Property: a mutant of the shop example is either refused, every problem positioned as
``comind.yaml:LINE:COLUMN``, or it validates and everything the platform builds from a spec
without engines builds and runs: each flow's steps are built and put a record through,
desired state and alert rules render, and the spec survives a dump and a reload. (The
engine half, every flow worker processing a record, is
tests/integration/flows/test_spec_mutants.py.)"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from tests.spec_mutants import EXAMPLE, mutant

from comind.flows.privacy import PiiGuard
from comind.flows.records import Record, StepResult
from comind.flows.steps import StepContext, build_steps
from comind.gitops.resources import render
from comind.governance.privacy import DataKeyRef, PiiKeys
from comind.observe.rules import alert_rules
from comind.spec import Spec, SpecError, load_spec
from comind.spec import steps as declared
from comind.spec.pii import PiiHandling

POSITIONED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): \S")
ORDER = {"id": "o-1", "email": " Ada@Example.com", "phone": "+31 6 1234 5678", "total": 42.5,
         "currency": "EUR", "country": "nl", "customer_id": 7,
         "created_at": "2026-01-02T03:04:05+00:00"}  # fmt: skip


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(EXAMPLE, root)
    yield root


class PassThrough:
    """Stands in for the engine-backed enrich step; checks it got a typed config."""

    name = "enrich"

    def __init__(self, conf: declared.Enrich) -> None:
        assert isinstance(conf.ttl, timedelta)

    def apply(self, records: list[Record]) -> StepResult:
        return StepResult(kept=records)


def refused_with_positions(err: SpecError, root: Path) -> None:
    text = (root / "comind.yaml").read_text().splitlines()
    assert err.issues and err.exit_code == 2
    for issue in err.issues:
        assert POSITIONED.match(str(issue)), str(issue)
        assert issue.line >= 1 and issue.column >= 1
        if issue.file == root / "comind.yaml":
            assert issue.line <= len(text) + 1, str(issue)


def _guard(flow: str) -> Callable[[dict[str, PiiHandling]], PiiGuard]:
    keys = PiiKeys(b"h" * 32, {f"flow/{flow}": DataKeyRef("dk-test", b"d" * 32)})
    return lambda fields: PiiGuard({f: (f"flow/{flow}", h) for f, h in fields.items()},
                                   keys, None, flow)  # fmt: skip


def runs_without_engines(spec: Spec, root: Path) -> None:
    for name, flow in spec.flows.items():
        timeout = flow.errors.step_timeout.total_seconds()
        ctx = StepContext(name, root, timeout, lookup=PassThrough, guard=_guard(name))
        records = [Record(dict(ORDER))]
        for step in build_steps(flow.steps, ctx):
            records = step.apply(records).kept  # raising here is the failure
    assert render(spec, root)
    assert len(alert_rules(spec)) >= len(spec.alerts)
    again = Spec.model_validate(yaml.safe_load(yaml.safe_dump(_dumped(spec))))
    assert again == spec


def _dumped(spec: Spec) -> Any:
    return spec.model_dump(by_alias=True, exclude_defaults=True)


@settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=mutant())
def test_a_mutant_is_refused_with_positions_or_builds(repo: Path, doc: dict[str, Any]) -> None:
    (repo / "comind.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for env in (None, "prod"):
        try:
            spec = load_spec(repo, env=env)
        except SpecError as err:
            refused_with_positions(err, repo)
        else:
            runs_without_engines(spec, repo)


def test_the_example_itself_builds(repo: Path) -> None:
    shutil.copy(EXAMPLE / "comind.yaml", repo / "comind.yaml")
    spec = load_spec(repo)
    enrich = spec.flows["ingest-orders"].steps[2]
    assert isinstance(enrich, declared.EnrichStep)
    assert enrich.enrich.ttl == timedelta(minutes=5)  # the example says ttl: 5m
    runs_without_engines(spec, repo)
