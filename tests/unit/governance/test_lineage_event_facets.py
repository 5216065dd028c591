"""OpenLineage RunEvents of flow runs: built from a lineage graph, they rebuild into the
client's schema classes and serialize back to the same JSON; quality assertions come from
the run's quarantine reasons."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from comind.governance.lineage import ColumnEdge, LineageGraph, Node, derive
from comind.governance.lineage_assertions import Rule, assertions, declared_rules, tally
from comind.governance.lineage_events import RunFacts, run_event
from comind.spec import load_spec
from openlineage_check import InvalidEvent, rebuild_event

RAW = Node("dataset:orders.raw", "dataset", "orders.raw", ("id", "email", "total"))
OUT = Node("dataset:orders.clean", "dataset", "orders.clean", ("id", "email", "total"))
FLOW = Node("flow:clean", "flow", "clean")
GRAPH = LineageGraph(
    {n.id: n for n in (RAW, OUT, FLOW)},
    frozenset({(RAW.id, FLOW.id), (FLOW.id, OUT.id)}),
    (
        ColumnEdge("clean", RAW.id, "id", OUT.id, "id", "DIRECT", "IDENTITY"),
        ColumnEdge("clean", RAW.id, "email", OUT.id, "email", "DIRECT", "TRANSFORMATION", True),
        ColumnEdge("clean", RAW.id, "total", OUT.id, "total", "DIRECT", "IDENTITY"),
        ColumnEdge("clean", RAW.id, "total", OUT.id, "total", "INDIRECT", "FILTER"),
    ),
)
DAY = (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))


def facts(state: str, **more: object) -> RunFacts:
    return RunFacts("clean", str(generate_new_uuid()), state, False, **more)  # type: ignore[arg-type]


def roundtrip(event: object) -> dict[str, object]:
    stored = json.loads(Serde.to_json(event))
    assert Serde.to_dict(rebuild_event(stored)) == stored
    return stored  # type: ignore[no-any-return]


def test_a_completed_partition_run_carries_every_facet() -> None:
    done = facts("COMPLETE", nominal=DAY, rows_in=10, rows_out=8,
                 rules=[Rule("not_null", "id"), Rule("range", "total", "warn")],
                 failures=Counter({("range", "total"): 2}))  # fmt: skip
    event = roundtrip(run_event(GRAPH, "shop", done))
    assert event["eventType"] == "COMPLETE"
    assert event["job"] == {
        "namespace": "comind://shop",
        "name": "clean",
        "facets": {"jobType": event["job"]["facets"]["jobType"]},
    }  # type: ignore[index]
    assert event["job"]["facets"]["jobType"]["processingType"] == "BATCH"  # type: ignore[index]
    run = event["run"]["facets"]  # type: ignore[index]
    assert run["nominalTime"]["nominalStartTime"] == "2026-01-02T00:00:00+00:00"
    assert run["processing_engine"]["name"] == "comind"
    (source,) = event["inputs"]  # type: ignore[misc]
    assert [f["name"] for f in source["facets"]["schema"]["fields"]] == ["id", "email", "total"]
    assert source["inputFacets"]["dataQualityMetrics"]["rowCount"] == 10
    checked = source["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["column"], a["success"], a.get("severity")) for a in checked] == [
        ("not_null", "id", True, None), ("range", "total", False, "warn")]  # fmt: skip
    (sink,) = event["outputs"]  # type: ignore[misc]
    assert sink["facets"]["dataQualityMetrics"]["rowCount"] == 8
    assert sink["outputFacets"]["outputStatistics"]["rowCount"] == 8
    lineage = sink["facets"]["columnLineage"]["fields"]
    (email,) = lineage["email"]["inputFields"]
    assert email["transformations"] == [{"type": "DIRECT", "subtype": "TRANSFORMATION",
                                         "masking": True}]  # fmt: skip
    (total,) = lineage["total"]["inputFields"]
    assert [t["subtype"] for t in total["transformations"]] == ["IDENTITY", "FILTER"]


def test_a_failed_run_says_why_and_a_start_carries_no_counts() -> None:
    error = "sink down\nDETAIL: Failing row contains (a@x.org)"  # row values stay home
    failed = roundtrip(run_event(GRAPH, "shop", facts("FAIL", rows_in=3, rows_out=0, error=error)))
    assert failed["run"]["facets"]["errorMessage"]["message"] == "sink down"  # type: ignore[index]
    started = roundtrip(run_event(GRAPH, "shop", facts("START")))
    assert "inputFacets" not in started["inputs"][0] or not started["inputs"][0]["inputFacets"]  # type: ignore[index]
    assert "errorMessage" not in started["run"]["facets"]  # type: ignore[index]


def test_reasons_are_tallied_by_rule_old_and_new_wording() -> None:
    counts = tally([
        ["range total [0, 100000]", "not_null id"],
        ["total: 200000 outside [0, 100000]"],
        ["'email' is a required property"],
    ])  # fmt: skip
    assert counts == Counter({("range", "total"): 2, ("not_null", "id"): 1})
    results = assertions([Rule("range", "total"), Rule("accepted", "currency")], counts)
    assert [(a.rule.kind, a.rule.column, a.passed, a.failing) for a in results] == [
        ("range", "total", False, 2), ("accepted", "currency", True, 0),
        ("not_null", "id", False, 1)]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        (("eventType",), "FINISHED", "not a EventType"),
        (("run", "runId"), "not-a-uuid", "event.run: Run: badly formed"),
        (("run", "facets", "nominalTyme"), {}, "no RunFacet named"),
        (("job", "facets", "jobType", "extra"), 1, "unknown keys"),
        (("eventTime",), "yesterday", "event: RunEvent: invalid"),
    ],
)
def test_the_checker_refuses_what_the_schema_refuses(
    path: tuple[str, ...], value: object, why: str
) -> None:
    stored = json.loads(Serde.to_json(run_event(GRAPH, "shop", facts("START", nominal=DAY))))
    where = stored
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    with pytest.raises(InvalidEvent, match=why):
        rebuild_event(stored)


def test_the_rules_a_run_evaluates_are_its_steps_and_its_outputs_per_record_rules(
    tmp_path: Path,
) -> None:
    (tmp_path / "comind.yaml").write_text(SPEC)
    spec = load_spec(tmp_path)
    rules = declared_rules(spec, "clean", ["shop.clean"])
    assert [(r.kind, r.column) for r in rules] == [
        ("range", "total"), ("not_null", "id"), ("not_null", "total"),
        ("unique", "id,email"),
    ]  # fmt: skip
    assert tally([["unique id,email"], ["sql SELECT 1 FROM t"]]) == Counter(
        {("unique", "id,email"): 1, ("sql", None): 1})  # fmt: skip


SPEC = """
platform: {name: t}
apps:
  shop: {run: "true", database: {name: shop}, queues: {in: {}}}
datasets:
  shop.clean:
    store: postgres://shop/clean
    quality: {not_null: [id, total], unique: [id, email]}
flows:
  clean:
    kind: stream
    source: queue://shop/in
    steps: [{quality: {range: {total: [0, 100]}}}]
    sink: {postgres: shop.clean, upsert_on: [id]}
"""


def test_every_flow_of_the_example_emits_events_that_validate() -> None:
    root = Path(__file__).resolve().parents[3] / "examples" / "shop"
    spec = load_spec(root)
    graph = derive(spec, root)
    for flow, declared in spec.flows.items():
        outputs = [n.name for n in graph.flow_outputs(flow) if n.kind == "dataset"]
        rules = declared_rules(spec, flow, outputs)
        done = RunFacts(flow, str(generate_new_uuid()), "COMPLETE", declared.kind != "batch",
                        rows_in=5, rows_out=4, rules=rules)  # fmt: skip
        event = roundtrip(run_event(graph, "shop", done))
        assert event["outputs"], flow
    start = RunFacts("customer-orders", str(generate_new_uuid()), "START", False)
    output = roundtrip(run_event(graph, "shop", start))["outputs"][0]  # type: ignore[index]
    lineage = output["facets"]["columnLineage"]
    assert any(
        t.get("masking")
        for f in lineage["fields"].values()
        for i in f["inputFields"]
        for t in i["transformations"]
    )  # fmt: skip  (the hashed email)
