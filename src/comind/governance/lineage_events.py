"""OpenLineage RunEvents of flow runs, built with the official client's typed classes.

One event says where a run of one flow stands (START, RUNNING, COMPLETE, FAIL, ABORT) and
carries, from the lineage graph derived from the spec (governance/lineage.py): the job
(``jobType``: BATCH or STREAMING, integration COMIND), the run (``nominalTime`` of a
partition, ``processing_engine``: comind and its version, ``errorMessage`` on FAIL), the
inputs and outputs with their ``schema``, the outputs' ``columnLineage``, row counts
(``dataQualityMetrics``, ``outputStatistics``) and the quality rules evaluated on the run
(``dataQualityAssertions`` on the inputs, where the OpenLineage model puts them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openlineage.client import facet_v2 as f
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
from openlineage.client.generated.data_quality_assertions_dataset import (
    DataQualityAssertionsDatasetFacet,
)
from openlineage.client.generated.data_quality_metrics_dataset import (
    DataQualityMetricsDatasetFacet,
)
from openlineage.client.generated.data_quality_metrics_input_dataset import (
    DataQualityMetricsInputDatasetFacet,
)
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet,
)

from comind import __version__
from comind.governance.lineage import ColumnEdge, LineageGraph, Node, openlineage_name
from comind.governance.lineage_assertions import Assertion, Rule, RuleKey, assertions

PRODUCER = f"https://github.com/comind-ops/comind-ops/tree/v{__version__}"
INTEGRATION = "COMIND"


@dataclass(frozen=True)
class RunFacts:
    """What one event reports of one run of one flow."""

    flow: str
    run_id: str  # a UUID
    state: str  # START | RUNNING | COMPLETE | FAIL | ABORT
    streaming: bool
    nominal: tuple[datetime, datetime] | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    rules: Sequence[Rule] = ()  # the rules the run evaluates
    failures: Counter[RuleKey] = field(default_factory=Counter)  # quarantined per rule
    error: str | None = None
    source: str | None = None  # the node id of the flow's source: its input the counts are of


def run_event(graph: LineageGraph, platform: str, facts: RunFacts) -> RunEvent:
    """The RunEvent of ``facts``, stamped now."""
    flow = graph.nodes.get(f"flow:{facts.flow}", Node(f"flow:{facts.flow}", "flow", facts.flow))
    namespace, name = openlineage_name(flow, platform)
    checked = assertions(facts.rules, facts.failures) if facts.rows_in is not None else []
    return RunEvent(
        eventType=RunState[facts.state],
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=facts.run_id, facets=_run_facets(facts)),
        job=Job(namespace=namespace, name=name, facets={"jobType": _job_type(facts)}),
        inputs=[_input(n, platform, facts, checked) for n in graph.flow_inputs(facts.flow)],
        outputs=[_output(n, graph, platform, facts) for n in graph.flow_outputs(facts.flow)],
        producer=PRODUCER,
    )


def _job_type(facts: RunFacts) -> f.job_type_job.JobTypeJobFacet:
    return f.job_type_job.JobTypeJobFacet(
        processingType="STREAMING" if facts.streaming else "BATCH",
        integration=INTEGRATION,
        jobType="FLOW",
        producer=PRODUCER,
    )


def _run_facets(facts: RunFacts) -> dict[str, f.RunFacet]:
    facets: dict[str, f.RunFacet] = {
        "processing_engine": f.processing_engine_run.ProcessingEngineRunFacet(
            version=__version__, name="comind", producer=PRODUCER
        )
    }
    if facts.nominal is not None:
        start, end = facts.nominal
        facets["nominalTime"] = f.nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=start.isoformat(), nominalEndTime=end.isoformat(), producer=PRODUCER
        )
    if facts.error is not None:
        facets["errorMessage"] = f.error_message_run.ErrorMessageRunFacet(
            message=_headline(facts.error), programmingLanguage="python", producer=PRODUCER
        )
    return facets


def _headline(error: str) -> str:
    """An error's first line: events leave the platform (Marquez), and PostgreSQL's DETAIL
    lines quote row values (``Failing row contains (...)``)."""
    return (error.strip().splitlines() or ["(no message)"])[0][:500]


def _schema(node: Node) -> dict[str, f.DatasetFacet]:
    if not node.fields:
        return {}
    fields = [f.schema_dataset.SchemaDatasetFacetFields(name=c) for c in node.fields]
    return {"schema": f.schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)}


def _input(node: Node, platform: str, facts: RunFacts, checked: list[Assertion]) -> InputDataset:
    namespace, name = openlineage_name(node, platform)
    facets: dict[str, f.InputDatasetFacet] = {}
    if facts.source is not None and node.id != facts.source:  # a lookup table: not counted
        checked = []
    elif facts.rows_in is not None:
        facets["dataQualityMetrics"] = DataQualityMetricsInputDatasetFacet(
            columnMetrics={}, rowCount=facts.rows_in, producer=PRODUCER
        )
    if checked:
        facets["dataQualityAssertions"] = _assertions(checked)
    return InputDataset(namespace=namespace, name=name, facets=_schema(node), inputFacets=facets)


def _assertions(checked: list[Assertion]) -> DataQualityAssertionsDatasetFacet:
    return DataQualityAssertionsDatasetFacet(
        assertions=[
            dqa.Assertion(assertion=a.rule.kind, success=a.passed, column=a.rule.column,
                          severity=a.rule.severity, actual=f"{a.failing} failing")
            for a in checked
        ],
        producer=PRODUCER,
    )  # fmt: skip


def _output(node: Node, graph: LineageGraph, platform: str, facts: RunFacts) -> OutputDataset:
    namespace, name = openlineage_name(node, platform)
    facets = _schema(node)
    mine = [c for c in graph.flow_columns(facts.flow) if c.target == node.id]
    if mine:
        facets["columnLineage"] = _column_lineage(mine, graph, platform)
    out: dict[str, f.OutputDatasetFacet] = {}
    if facts.rows_out is not None:
        facets["dataQualityMetrics"] = DataQualityMetricsDatasetFacet(
            columnMetrics={}, rowCount=facts.rows_out, producer=PRODUCER
        )
        out["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=facts.rows_out, producer=PRODUCER
        )
    return OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=out)


def _column_lineage(
    edges: list[ColumnEdge], graph: LineageGraph, platform: str
) -> f.column_lineage_dataset.ColumnLineageDatasetFacet:
    """Per output field its input fields; edges with no target field (a filter, a group-by
    over the whole dataset) are the dataset-level lineage."""
    module = f.column_lineage_dataset
    # output field ("": the dataset) -> input (node, field) -> how it is used
    uses: dict[str, dict[tuple[str, str], list[module.Transformation]]] = {}
    for edge in edges:
        how = module.Transformation(type=edge.type, subtype=edge.subtype,
                                    masking=edge.masking or None)  # fmt: skip
        sources = uses.setdefault(edge.target_field, {})
        sources.setdefault((edge.source, edge.source_field), []).append(how)

    def inputs(sources: dict[tuple[str, str], list[module.Transformation]]) -> list[Any]:
        found = []
        for (nid, column), hows in sources.items():
            namespace, name = openlineage_name(graph.nodes.get(nid) or _node(nid), platform)
            found.append(module.InputField(namespace=namespace, name=name, field=column,
                                           transformations=hows))  # fmt: skip
        return found

    return module.ColumnLineageDatasetFacet(
        fields={k: module.Fields(inputFields=inputs(v)) for k, v in uses.items() if k},
        dataset=inputs(uses.get("", {})),
        producer=PRODUCER,
    )


def _node(node_id: str) -> Node:
    kind, _, name = node_id.partition(":")
    return Node(node_id, kind, name)
