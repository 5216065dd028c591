"""Property: a mutant of the shop example's flows is either refused with ``file:line:column``,
or it applies and every flow worker of it starts and processes a record on real engines.

The mutations are the spec words flows consume: step lists (each kind, good and bad
configurations), durations (enrich ttl, dedupe window, step timeout, window size, max_wait),
cron schedules, sources and sinks that resolve or dangle. tests/unit/spec/test_mutants.py
mutates the whole document; this one pays for engines, so it keeps to flows and few examples.
"""

from __future__ import annotations

import copy
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mutantkit import REDIS_PREFIX, applied, process_one
from tests.spec_mutants import BASE, CRONS, DURATIONS, EXAMPLE, STEPS

from comind.embedded.platform import EmbeddedPlatform
from comind.spec import SpecError, load_spec

POSITIONED = re.compile(r"^[^:]+:\d+:\d+: \S")
SOURCES = ["http://orders", "http://nope", "queue://orders/order-events", "queue://orders/nope",
           "queue://analytics/order-feed", "topic://order-placed", "topic://nope",
           "postgres://orders/enriched_orders", "objects://analytics-lake/in/"]  # fmt: skip
SINKS: list[dict[str, Any]] = [
    {"postgres": "orders.enriched_orders", "upsert_on": ["id"]},
    {"postgres": "analytics.nope"},
    {"topic": "order-placed"},
    {"queue": "payments/new-orders"},
    {"queue": "orders/nope"},
    {"objects": "analytics-lake/out/{date}.jsonl", "format": "jsonl"},
    {"redis": REDIS_PREFIX + "order:{id}", "ttl": "1h"},
    {"redis": REDIS_PREFIX + "order:{id", "ttl": "5 min"},
]
MAX_WAITS = [0, 1, "1s", "2s", "1 s"]  # a long max_wait is a long wait for a one-record batch


@st.composite
def flow_mutant(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        flow = doc["flows"][draw(st.sampled_from(sorted(doc["flows"])))]
        change = draw(st.sampled_from(["step", "drop", "ttl", "timing", "source", "sink", "cron"]))
        steps = flow.setdefault("steps", [])
        if change == "step":
            steps.insert(
                draw(st.integers(0, len(steps))), copy.deepcopy(draw(st.sampled_from(STEPS)))
            )
        elif change == "drop" and steps:
            steps.pop(draw(st.integers(0, len(steps) - 1)))
        elif change == "ttl":
            steps.insert(0, {"enrich": {"table": "orders/customers", "by": "customer_id",
                                        "ttl": draw(st.sampled_from(DURATIONS))}})  # fmt: skip
        elif change == "timing":
            _timing(draw, flow)
        elif change == "source":
            flow["source"] = draw(st.sampled_from(SOURCES))
        elif change == "sink":
            flow.pop("sinks", None)
            flow["sink"] = copy.deepcopy(draw(st.sampled_from(SINKS)))
        elif change == "cron":
            flow["schedule"] = draw(st.sampled_from(CRONS))
    return doc


def _timing(draw: st.DrawFn, flow: dict[str, Any]) -> None:
    where = draw(st.sampled_from(["errors", "batch", "window", "dedupe"]))
    if where == "errors":
        flow.setdefault("errors", {})["step_timeout"] = draw(st.sampled_from(DURATIONS))
    elif where == "batch":
        flow["batch"] = {"size": 10, "max_wait": draw(st.sampled_from(MAX_WAITS))}
    elif where == "window" and "window" in flow:
        flow["window"]["allowed_lateness"] = draw(st.sampled_from(DURATIONS))
    else:
        window = draw(st.sampled_from(DURATIONS))
        flow.setdefault("steps", []).append(
            {"cleanse": {"dedupe": {"key": ["id"], "window": window}}}
        )


def _own_databases(doc: dict[str, Any]) -> None:
    """Database names of this example's own (the engines are shared by the session)."""
    suffix = uuid.uuid4().hex[:8]
    for name, app in doc["apps"].items():
        if isinstance(app.get("database"), dict):
            app["database"]["name"] = f"{name}-{suffix}"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mutants") / "shop"
    shutil.copytree(EXAMPLE, root)
    return root


@pytest.mark.timeout(600)
@settings(
    max_examples=6,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(doc=copy.deepcopy(BASE))  # the example itself (enrich ttl: 5m) runs
@given(doc=flow_mutant())
def test_a_flow_mutant_is_refused_with_positions_or_every_worker_processes_a_record(
    platform: EmbeddedPlatform, shop: Path, doc: dict[str, Any]
) -> None:
    _own_databases(doc)
    (shop / "comind.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        spec = load_spec(shop)
    except SpecError as err:
        assert err.issues and all(POSITIONED.match(str(i)) for i in err.issues), str(err)
        return
    order = sorted(spec.flows, key=lambda name: spec.flows[name].kind == "batch")
    with applied(spec, shop, platform) as builder:
        for name in order:
            assert process_one(builder, name) >= 1, name
