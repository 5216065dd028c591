"""The lineage graph's vocabulary: nodes, column edges, the graph, and the node each part
of a spec (a source URI, a sink, an enrich table) stands for.

Node ids are ``KIND:NAME``. A table an app declares a dataset on is that dataset's node; any
other app table is a ``table`` node. An object location is its prefix up to the first
``{template}`` part or the file name, so every partition a flow writes is one node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from comind.spec import Spec
from comind.spec.model import Flow, Sink, SourceRef
from comind.spec.names import flow_dead_letter_queue

KINDS = (
    "dataset", "flow", "queue", "topic", "app", "objects", "table", "http", "redis", "alert",
)  # fmt: skip


@dataclass(frozen=True)
class Node:
    """One thing data lives in or moves through; ``fields``: its known columns."""

    id: str
    kind: str
    name: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnEdge:
    """Output field ``target_field`` of ``target`` depends on ``source_field`` of
    ``source``, through the flow ``flow`` (node ids, except ``flow``: the flow's name)."""

    flow: str
    source: str
    source_field: str
    target: str
    target_field: str
    type: str  # DIRECT | INDIRECT
    subtype: str  # IDENTITY | TRANSFORMATION | AGGREGATION | FILTER | GROUP_BY | JOIN | ...
    masking: bool = False


@dataclass(frozen=True)
class LineageGraph:
    nodes: dict[str, Node]
    edges: frozenset[tuple[str, str]]
    columns: tuple[ColumnEdge, ...]

    def flow_inputs(self, flow: str) -> list[Node]:
        """What the flow reads: its source and its lookup tables, in id order."""
        fid = node_id("flow", flow)
        return sorted((self.nodes[a] for a, b in self.edges if b == fid), key=_by_id)

    def flow_outputs(self, flow: str) -> list[Node]:
        """What the flow writes: its sinks, in id order (not its dead-letter queue)."""
        fid, dlq = node_id("flow", flow), node_id("queue", flow_dead_letter_queue(flow))
        return sorted((self.nodes[b] for a, b in self.edges if a == fid and b != dlq), key=_by_id)

    def flow_columns(self, flow: str) -> list[ColumnEdge]:
        return [c for c in self.columns if c.flow == flow]


def _by_id(node: Node) -> str:
    return node.id


def node_id(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def split_id(nid: str) -> tuple[str, str]:
    """``KIND:NAME`` apart; a bare name is a dataset (the CLI's shorthand)."""
    kind, sep, name = nid.partition(":")
    return (kind, name) if sep and kind in KINDS else ("dataset", nid)


def node(kind: str, name: str, fields: tuple[str, ...] = ()) -> Node:
    return Node(node_id(kind, name), kind, name, fields)


def schema_fields(root: Path, ref: str) -> tuple[str, ...]:
    """The top-level properties of a JSON Schema file in the repo (none if unreadable:
    the spec's checks already refused a missing or broken one)."""
    try:
        schema = json.loads((root / ref).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    props = schema.get("properties") if isinstance(schema, dict) else None
    return tuple(props) if isinstance(props, dict) else ()


def table_node(spec: Spec, app: str, table: str) -> Node:
    """An app table: its dataset when one is declared on it, else a plain table node."""
    for name, ds in spec.datasets.items():
        if ds.store == f"postgres://{app}/{table}":
            return node("dataset", name)
    return node("table", f"{app}/{table}")


def source_node(spec: Spec, ref: SourceRef) -> Node:
    if ref.scheme == "postgres":
        return table_node(spec, ref.app, ref.name)
    if ref.scheme == "objects":
        return objects_node(ref.target)
    return node(ref.scheme, ref.target)  # queue, topic, http


def objects_node(location: str) -> Node:
    """An object prefix: the location up to its first ``{template}`` part or file name."""
    parts = location.split("/")
    dirs = parts[:-1] if len(parts) > 1 else parts
    cut = next((i for i, p in enumerate(dirs) if "{" in p), len(dirs))
    return node("objects", "/".join(dirs[: max(cut, 1)]))


def sinks_of(flow: Flow) -> dict[str, Sink]:
    """A flow's sinks by name (``default`` for a lone ``sink:``)."""
    return {"default": flow.sink} if flow.sink is not None else dict(flow.sinks)


def sink_node(sink: Sink) -> Node:
    if sink.postgres is not None:
        return node("dataset", sink.postgres)
    if sink.objects is not None:
        return objects_node(sink.objects)
    if sink.queue is not None:
        return node("queue", sink.queue)
    if sink.topic is not None:
        return node("topic", sink.topic)
    return node("redis", str(sink.redis).partition("{")[0].rstrip(":"))
