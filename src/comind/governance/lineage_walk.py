"""Walks over a lineage graph held in memory: the neighbourhood of a node (Marquez's
lineage shape), the lineage of one column, and the impact of changing a node or a column.

Every walk keeps a visited set, so it costs at most the size of the graph, never the number
of paths (which grows exponentially with fan-in: the reason a plain recursive SQL walk does
not scale). Impact stops at apps and alerts: what an app does with what it reads is not
declared, and an alert watches, it does not pass data on.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Any, TypeVar

from comind.errors import UsageError
from comind.governance.lineage_nodes import ColumnEdge, LineageGraph, Node, node_id

DEFAULT_DEPTH = 20
MAX_DEPTH = 100
LEAVES = ("app", "alert")
Field = tuple[str, str]  # (node id, field)
T = TypeVar("T")


class UnknownNode(UsageError):
    """A node (or a field of it) the graph does not hold."""


class LineageIndex:
    """A graph with its adjacency, built once per stored version."""

    def __init__(self, graph: LineageGraph) -> None:
        self.graph = graph
        self.out: dict[str, list[str]] = defaultdict(list)
        self.into: dict[str, list[str]] = defaultdict(list)
        for a, b in sorted(graph.edges):
            self.out[a].append(b)
            self.into[b].append(a)
        self.leaves = {n.id for n in graph.nodes.values() if n.kind in LEAVES}
        # apps before alerts: an alert may watch an app reached through this node
        self.leaf_out = {
            a: sorted((m for m in bs if m in self.leaves), key=_apps_first)
            for a, bs in self.out.items()
            if any(m in self.leaves for m in bs)
        }
        self.col_out: dict[Field, list[ColumnEdge]] = defaultdict(list)
        self.col_in: dict[Field, list[ColumnEdge]] = defaultdict(list)
        for c in graph.columns:
            self.col_out[(c.source, c.source_field)].append(c)
            self.col_in[(c.target, c.target_field)].append(c)
        self.ups = {k: [(c.source, c.source_field) for c in v] for k, v in self.col_in.items()}
        self.downs = {k: [(c.target, c.target_field) for c in v] for k, v in self.col_out.items()}

    def node(self, nid: str, field: str | None = None) -> Node:
        found = self.graph.nodes.get(nid)
        if found is None:
            raise UnknownNode(f"no node {nid} in the lineage graph")
        if field is not None and found.fields and field not in found.fields:
            raise UnknownNode(f"{nid} has no field {field} (fields: {', '.join(found.fields)})")
        return found

    def neighbourhood(self, start: str | None, depth: int) -> list[dict[str, Any]]:
        """Marquez's ``graph``: the nodes upstream and downstream of ``start`` within
        ``depth`` edges (every node when ``start`` is None), with their edges."""
        if start is None:
            keep = set(self.graph.nodes)
        else:
            self.node(start)
            keep = _reach(start, self.out, depth) | _reach(start, self.into, depth)
        return [self._entry(self.graph.nodes[n], keep) for n in sorted(keep)]

    def _entry(self, n: Node, keep: set[str]) -> dict[str, Any]:
        return {
            "id": n.id,
            "type": graph_type(n.kind),
            "data": {"kind": n.kind, "name": n.name, "fields": list(n.fields)},
            "inEdges": [{"origin": a, "destination": n.id} for a in self.into[n.id] if a in keep],
            "outEdges": [{"origin": n.id, "destination": b} for b in self.out[n.id] if b in keep],
        }

    def column_graph(self, start: str, field: str, depth: int) -> list[dict[str, Any]]:
        """The fields ``field`` of ``start`` comes from and goes to, within ``depth`` column
        edges each way, as Marquez's column lineage ``graph`` (``DATASET_FIELD`` nodes)."""
        self.node(start, field)
        keep = _reach((start, field), self.ups, depth) | _reach((start, field), self.downs, depth)
        return [self._field_entry(f, keep) for f in sorted(keep)]

    def _field_entry(self, f: Field, keep: set[Field]) -> dict[str, Any]:
        ins = [c for c in self.col_in[f] if (c.source, c.source_field) in keep]
        outs = [c for c in self.col_out[f] if (c.target, c.target_field) in keep]
        return {
            "id": field_id(f),
            "type": "DATASET_FIELD",
            "data": {"node": f[0], "field": f[1], "inputFields": [_input(c) for c in ins]},
            "inEdges": [{"origin": field_id((c.source, c.source_field)),
                         "destination": field_id(f)} for c in ins],
            "outEdges": [{"origin": field_id(f),
                          "destination": field_id((c.target, c.target_field))} for c in outs],
        }  # fmt: skip

    def impact(self, start: str, field: str | None, depth: int) -> list[dict[str, Any]]:
        """Everything downstream of ``start`` (of its ``field``, if given) within ``depth``
        edges, nearest first: ``{id, kind, name, distance[, fields]}``."""
        self.node(start, field)
        if field is None:
            reached, fields = self._node_impact(start, depth), dict[str, set[str]]()
        else:
            reached, fields = self._field_impact(start, field, depth)
        self._add_leaves(reached, depth)
        reached.pop(start, None)
        out = []
        for nid, distance in sorted(reached.items(), key=lambda kv: (kv[1], kv[0])):
            n = self.graph.nodes[nid]
            entry: dict[str, Any] = {"id": nid, "kind": n.kind, "name": n.name,
                                     "distance": distance}  # fmt: skip
            if nid in fields:
                entry["fields"] = sorted(fields[nid])
            out.append(entry)
        return out

    def _node_impact(self, start: str, depth: int) -> dict[str, int]:
        reached, frontier = {start: 0}, [start]
        for d in range(1, depth + 1):
            nxt = []
            for n in frontier:
                if n != start and n in self.leaves:
                    continue
                for m in self.out[n]:
                    if m not in reached:
                        reached[m] = d
                        nxt.append(m)
            frontier = nxt
        return reached

    def _field_impact(
        self, start: str, field: str, depth: int
    ) -> tuple[dict[str, int], dict[str, set[str]]]:
        """Column edges forward (a flow one step, its output two), and a topic's fields on
        to its subscriber queues: the shortest distances, by a small Dijkstra."""
        best: dict[Field, int] = {(start, field): 0}
        reached: dict[str, int] = {start: 0}
        heap = [(0, start, field)]
        while heap:
            d, n, f = heapq.heappop(heap)
            if d > best.get((n, f), d):
                continue
            steps: list[tuple[int, Field, str | None]] = [
                (d + 2, (c.target, c.target_field), node_id("flow", c.flow))
                for c in self.col_out[(n, f)]
            ]
            if n.startswith("topic:"):
                steps += [(d + 1, (q, f), None) for q in self.out[n] if q.startswith("queue:")]
            for nd, target, via in steps:
                if via is not None and d + 1 <= depth:
                    reached[via] = min(reached.get(via, d + 1), d + 1)
                if nd <= depth and nd < best.get(target, nd + 1):
                    best[target] = nd
                    reached[target[0]] = min(reached.get(target[0], nd), nd)
                    heapq.heappush(heap, (nd, *target))
        fields: dict[str, set[str]] = defaultdict(set)
        for n, f in best:
            fields[n].add(f)
        return reached, fields

    def _add_leaves(self, reached: dict[str, int], depth: int) -> None:
        """The apps that hold what was reached, and the alerts on anything reached."""
        for n, d in [(n, d) for n, d in reached.items() if n in self.leaf_out]:
            for m in self.leaf_out[n]:
                self._leaf(reached, m, d + 1, depth)

    def _leaf(self, reached: dict[str, int], m: str, d: int, depth: int) -> None:
        if d > depth or reached.get(m, d + 1) <= d:
            return
        reached[m] = d
        for alert in self.leaf_out.get(m, ()):
            self._leaf(reached, alert, d + 1, depth)


def _apps_first(nid: str) -> tuple[bool, str]:
    return (not nid.startswith("app:"), nid)


def graph_type(kind: str) -> str:
    """Marquez's node types: JOB for a flow, DATASET for what holds data; apps and alerts
    are named by their kind."""
    return {"flow": "JOB", "app": "APP", "alert": "ALERT"}.get(kind, "DATASET")


def field_id(f: Field) -> str:
    return f"datasetField:{f[0]}:{f[1]}"


def _input(c: ColumnEdge) -> dict[str, Any]:
    return {"node": c.source, "field": c.source_field, "flow": c.flow, "type": c.type,
            "subtype": c.subtype, "masking": c.masking}  # fmt: skip


def _reach(start: T, adjacency: dict[T, list[T]], depth: int) -> set[T]:
    """``start`` and what ``adjacency`` reaches from it within ``depth`` steps."""
    seen, frontier = {start}, [start]
    for _ in range(depth):
        frontier = list(
            dict.fromkeys(m for n in frontier for m in adjacency.get(n, ()) if m not in seen)
        )
        seen.update(frontier)
        if not frontier:
            break
    return seen
