"""Lineage metrics: the size of the stored graph (set when a revision's graph is stored) and
how long the lineage API's walks take."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from comind.governance.lineage_nodes import KINDS, LineageGraph
from comind.observe.metrics import REGISTRY

NODES = Gauge(
    "comind_lineage_nodes",
    "Nodes of the applied revision's lineage graph, by kind.",
    ["kind"],
    registry=REGISTRY,
)
EDGES = Gauge(
    "comind_lineage_edges",
    "Edges of the applied revision's lineage graph: node to node, and column to column.",
    ["level"],
    registry=REGISTRY,
)
STORED = Counter(
    "comind_lineage_graphs_stored_total",
    "Lineage graphs stored when a revision was applied, by outcome: stored, failed.",
    ["outcome"],
    registry=REGISTRY,
)
QUERY_SECONDS = Histogram(
    "comind_lineage_query_seconds",
    "Time a lineage API query took (version check and walk), by query: graph, column, impact.",
    ["query"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
    registry=REGISTRY,
)


def sized(graph: LineageGraph) -> None:
    """Export the size of ``graph``, the one now stored."""
    for kind in KINDS:
        NODES.labels(kind).set(sum(1 for n in graph.nodes.values() if n.kind == kind))
    EDGES.labels("node").set(len(graph.edges))
    EDGES.labels("column").set(len(graph.columns))
