"""The shapes of the lineage API's answers (:mod:`comind.api.lineage`), in Marquez's
lineage shape: a ``graph`` of nodes, each with its ``inEdges`` and ``outEdges``."""

from __future__ import annotations

from pydantic import Field

from comind.api.openapi_schemas import Closed


class Edge(Closed):
    origin: str
    destination: str


class NodeData(Closed):
    kind: str = Field(description="dataset, flow, queue, topic, app, objects, table, http, "
                                  "redis or alert")  # fmt: skip
    name: str
    fields: list[str] = Field(description="its known columns (schema file, or derived)")


class GraphNode(Closed):
    id: str = Field(description="KIND:NAME, e.g. dataset:orders.enriched_orders")
    type: str = Field(description="JOB (a flow), DATASET (what holds data), APP or ALERT")
    data: NodeData
    inEdges: list[Edge]
    outEdges: list[Edge]


class Lineage(Closed):
    graph: list[GraphNode]


class InputField(Closed):
    node: str
    field: str
    flow: str
    type: str = Field(description="DIRECT or INDIRECT (OpenLineage column lineage 1-2-0)")
    subtype: str = Field(description="IDENTITY, TRANSFORMATION, AGGREGATION, FILTER, "
                                     "GROUP_BY, JOIN, WINDOW or CONDITIONAL")  # fmt: skip
    masking: bool


class FieldData(Closed):
    node: str
    field: str
    inputFields: list[InputField]


class FieldNode(Closed):
    id: str = Field(description="datasetField:KIND:NAME:FIELD")
    type: str = Field(description="DATASET_FIELD")
    data: FieldData
    inEdges: list[Edge]
    outEdges: list[Edge]


class ColumnLineage(Closed):
    graph: list[FieldNode]


class Impacted(Closed):
    id: str
    kind: str
    name: str
    distance: int = Field(description="edges from the node asked about (a flow's output is "
                                      "two: through the flow)")  # fmt: skip
    fields: list[str] | None = Field(None, description="with field: its fields affected")


class Impact(Closed):
    node: str
    field: str | None
    impact: list[Impacted] = Field(description="nearest first")
