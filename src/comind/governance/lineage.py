"""The lineage graph of a spec: which data feeds which flow, what each flow writes, and,
column by column, where each output field comes from.

The graph is derived from the typed spec alone (with the dataset schema files and the flow
modules' ``LINEAGE`` declarations, read from the repo, never imported), so it is known
before the first record moves and changes only when the spec does. Edges point the way data
moves: a flow's source and lookup tables to the flow, the flow to its sinks, a topic to its
subscriber queues, an app's datasets, tables, queues and object prefixes to the app (the app
reads what it holds), and whatever an alert's label matchers name to the alert. Column
lineage follows OpenLineage's column lineage facet (1-2-0); see ``lineage_columns``.
"""

from __future__ import annotations

from pathlib import Path

from comind.governance.lineage_columns import flow_columns
from comind.governance.lineage_links import alert_edges, owner_edges
from comind.governance.lineage_nodes import (
    KINDS,
    ColumnEdge,
    LineageGraph,
    Node,
    node,
    node_id,
    schema_fields,
    sink_node,
    sinks_of,
    source_node,
    split_id,
    table_node,
)
from comind.spec import Spec
from comind.spec.model import Flow
from comind.spec.names import flow_dead_letter_queue
from comind.spec.steps import EnrichStep

__all__ = [
    "KINDS",
    "ColumnEdge",
    "LineageGraph",
    "Node",
    "derive",
    "node_id",
    "openlineage_name",
    "split_id",
]


def openlineage_name(node: Node, platform: str) -> tuple[str, str]:
    """(namespace, name) of a node in OpenLineage: flows (jobs) and datasets in the
    platform's namespace ``comind://PLATFORM``; queues, topics, tables, object prefixes
    and the rest, which OpenLineage also treats as datasets, in ``comind://PLATFORM/KIND``
    so two kinds with the same name never meet."""
    if node.kind in ("flow", "dataset"):
        return f"comind://{platform}", node.name
    return f"comind://{platform}/{node.kind}", node.name


def derive(spec: Spec, root: Path) -> LineageGraph:
    """The lineage graph of ``spec``; ``root``: the repo holding its files."""
    nodes = _declared_nodes(spec, root)
    edges: set[tuple[str, str]] = set()
    for name, flow in spec.flows.items():
        fid = node_id("flow", name)
        nodes[fid] = node("flow", name)
        for src in _inputs(spec, flow):
            nodes.setdefault(src.id, src)
            edges.add((src.id, fid))
        for sink in sinks_of(flow).values():
            out = sink_node(sink)
            nodes.setdefault(out.id, out)
            edges.add((fid, out.id))
    for topic, declared in spec.topics.items():
        for sub in declared.subscribers:
            edges.add((node_id("topic", topic), node_id("queue", sub.queue)))
    for held, dlq in _dead_letters(spec):
        nodes[dlq.id] = dlq
        edges.add((held, dlq.id))
    columns, fields = flow_columns(spec, root, nodes, edges)
    nodes = {
        k: n if n.fields else node(n.kind, n.name, fields.get(k, ())) for k, n in nodes.items()
    }
    edges |= owner_edges(spec, nodes)
    alerts, alert_links = alert_edges(spec, nodes)
    nodes.update(alerts)
    edges |= alert_links
    return LineageGraph(nodes, frozenset(edges), tuple(columns))


def _declared_nodes(spec: Spec, root: Path) -> dict[str, Node]:
    nodes = [node("topic", t) for t in spec.topics]
    for name, app in spec.apps.items():
        nodes += [node("app", name), *(node("queue", f"{name}/{q}") for q in app.queues)]
    for name, ds in spec.datasets.items():
        nodes.append(node("dataset", name, schema_fields(root, ds.schema_) if ds.schema_ else ()))
    return {n.id: n for n in nodes}


def _dead_letters(spec: Spec) -> list[tuple[str, Node]]:
    """Each queue with a dead-letter queue, and each flow, to where its failures go (named
    as the platform names them, so an alert on ``queue=~'.*-dlq'`` finds them)."""
    found = [(node_id("queue", f"{app}/{q}"), node("queue", f"{app}/{q}-dlq"))
             for app, declared in spec.apps.items()
             for q, queue in declared.queues.items() if queue.dlq is not None]  # fmt: skip
    found += [(node_id("flow", name), node("queue", flow_dead_letter_queue(name)))
              for name, flow in spec.flows.items() if flow.errors.dead_letter]  # fmt: skip
    return found


def _inputs(spec: Spec, flow: Flow) -> list[Node]:
    found = [source_node(spec, flow.source_ref)]
    for step in flow.steps:
        if isinstance(step, EnrichStep):
            app, _, table = step.enrich.table.partition("/")
            found.append(table_node(spec, app, table))
    return found
