"""Column lineage derived from a flow's declared steps.

The fields of a flow's records are followed from its source through each step to its sinks,
each field carrying what it depends on: ``(node, field)`` origins with an OpenLineage type
and subtype. What each step does to them:

- ``validate`` adds the schema's fields (from the source), ``IDENTITY``;
- ``cleanse`` makes the fields it touches a ``TRANSFORMATION``; its ``dedupe`` keys filter;
- ``map``/``python``: every field becomes a ``TRANSFORMATION``, unless the function's module
  declares its mapping (``lineage_declared``);
- ``filter`` (declared fields), ``quality`` (the rules' fields): ``INDIRECT FILTER``;
- ``anonymize``: ``TRANSFORMATION`` with ``masking``;
- ``enrich``: ``TRANSFORMATION`` from the lookup table's fields, ``INDIRECT JOIN`` on ``by``;
- ``route`` on a field: ``INDIRECT CONDITIONAL``;
- ``aggregate`` and a flow's ``window``: ``AGGREGATION`` of the reduced fields,
  ``INDIRECT GROUP_BY`` on the keys (``WINDOW`` on the window's time field).

A subtype only rises along the way (IDENTITY < TRANSFORMATION < AGGREGATION) and masking
sticks. An indirect influence on rows (a filter, a grouping) reaches every output field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from comind.governance.lineage_declared import declared
from comind.governance.lineage_nodes import (
    ColumnEdge,
    Node,
    schema_fields,
    sink_node,
    sinks_of,
    source_node,
    table_node,
)
from comind.spec import Spec
from comind.spec.model import Flow, Window
from comind.spec.steps import (
    AggregateStep,
    AnonymizeStep,
    CleanseStep,
    EnrichStep,
    FilterStep,
    MapStep,
    PythonStep,
    QualityRule,
    QualityStep,
    RouteStep,
    StepSpec,
    ValidateStep,
)

Origin = tuple[str, str]  # (node id, field)
Written = tuple[list["ColumnEdge"], dict[str, set[str]]]
_RANK = {"IDENTITY": 0, "TRANSFORMATION": 1, "AGGREGATION": 2}
REDUCERS = ("sum", "min", "max", "avg")


@dataclass(frozen=True)
class Dep:
    type: str
    subtype: str
    masking: bool = False

    def rise(self, subtype: str, masking: bool = False) -> Dep:
        if self.type == "INDIRECT":
            return self
        return Dep(
            "DIRECT", max(self.subtype, subtype, key=_RANK.__getitem__), self.masking or masking
        )


Deps = dict[Origin, Dep]
IDENTITY = Dep("DIRECT", "IDENTITY")


class Flowing:
    """A flow's record fields at one point of its steps, each with its origins; ``rows``:
    what influences every row (filters, groupings)."""

    def __init__(self, source: str, fields: tuple[str, ...], root: Path, spec: Spec) -> None:
        self.source, self.root, self.spec = source, root, spec
        self.fields: dict[str, Deps] = {f: {(source, f): IDENTITY} for f in fields}
        self.rows: set[tuple[Origin, Dep]] = set()

    def influence(self, fields: list[str], subtype: str) -> Deps:
        """The direct origins of ``fields`` as indirect ones of ``subtype``."""
        found = (o for f in fields for o, d in self.fields.get(f, {}).items() if d.type == "DIRECT")
        return {o: Dep("INDIRECT", subtype) for o in found}

    def risen(self, field: str, subtype: str, masking: bool = False) -> Deps:
        return {o: d.rise(subtype, masking) for o, d in self.fields.get(field, {}).items()}

    def transform(self, fields: list[str], masking: bool = False) -> None:
        for f in fields:
            if f in self.fields:
                self.fields[f] = self.risen(f, "TRANSFORMATION", masking)

    def filter(self, fields: list[str], subtype: str = "FILTER") -> None:
        self.rows |= set(self.influence(fields, subtype).items())

    def step(self, step: StepSpec, lookups: dict[str, Node]) -> None:
        match step:
            case ValidateStep():
                for f in schema_fields(self.root, step.validate_):
                    self.fields.setdefault(f, {(self.source, f): IDENTITY})
            case CleanseStep(cleanse=c):
                self.transform([*c.trim, *c.lower, *c.upper, *c.email, *c.phone, *c.types])
                self.filter(c.dedupe.key if c.dedupe else [])
            case MapStep(map=ref) | PythonStep(python=ref):
                self.call(ref)
            case FilterStep(filter=ref):
                fields = declared(self.root, ref)
                self.filter(fields if isinstance(fields, list) else [])
            case EnrichStep(enrich=e):
                app, _, table = e.table.partition("/")
                self.enrich(lookups[table_node(self.spec, app, table).id], e.fields, e.by, e.as_)
            case RouteStep(route=r) if r.field is not None:
                self.filter([r.field], "CONDITIONAL")
            case AnonymizeStep(anonymize=actions):
                self.transform(list(actions), masking=True)
            case QualityStep(quality=rules):
                self.filter(rule_fields(rules))
            case AggregateStep(aggregate=g):
                keys = {f: self.fields.get(f, {}) for f in g.group_by}
                self.reduce(keys, g.count, {k: getattr(g, k) for k in REDUCERS}, g.group_by)

    def call(self, ref: str) -> None:
        mapping = declared(self.root, ref)
        if not isinstance(mapping, dict):
            self.transform(list(self.fields))
            return
        out = dict(self.fields) if mapping.get("*") == "*" else {}
        for name, ins in mapping.items():
            if name == "*":
                continue
            if isinstance(ins, str):
                out[name] = dict(self.fields.get(ins, {}))
            else:
                out[name] = {o: d for f in ins for o, d in self.risen(f, "TRANSFORMATION").items()}
        self.fields = out

    def enrich(self, table: Node, wanted: list[str] | None, by: str, nest: str | None) -> None:
        fields = wanted if wanted is not None else list(table.fields)
        join = self.influence([by], "JOIN")
        looked = {f: {(table.id, f): Dep("DIRECT", "TRANSFORMATION"), **join} for f in fields}
        if nest is not None and fields:
            self.fields[nest] = {o: d for deps in looked.values() for o, d in deps.items()}
        elif nest is None:
            self.fields.update(looked)

    def reduce(
        self, keys: dict[str, Deps], count: str | None, reducers: dict[str, list[str]],
        group_by: list[str],
    ) -> None:  # fmt: skip
        """Group rows by ``keys`` (kept as they are) and reduce fields (AGGREGATION)."""
        grouping = self.influence(group_by, "GROUP_BY")
        out: dict[str, Deps] = dict(keys)
        if count:
            out[count] = {}
        for kind, fields in reducers.items():
            out.update({f"{kind}_{f}": self.risen(f, "AGGREGATION") for f in fields})
        self.fields = out
        self.rows |= set(grouping.items())

    def window(self, w: Window) -> None:
        time = self.risen(w.field, "TRANSFORMATION")
        self.filter([w.field], "WINDOW")
        keys = {"window_start": time, "window_end": dict(time)}
        if w.key is not None:
            keys[w.key] = self.fields.get(w.key, {})
        self.reduce(keys, "count", {"sum": list(w.sum)}, [w.key] if w.key else [])

    def edges(self, flow: str, target: Node) -> list[ColumnEdge]:
        """Column edges into ``target`` (only into its known fields, when it has some)."""
        names = (
            [f for f in target.fields if f in self.fields] if target.fields else list(self.fields)
        )
        return [
            ColumnEdge(flow, o[0], o[1], target.id, f, d.type, d.subtype, d.masking)
            for f in names
            for o, d in [*self.fields[f].items(), *self.rows]
        ]


def rule_fields(rules: list[QualityRule]) -> list[str]:
    """The fields quality rules name (a rule's config is a list of fields or a mapping
    keyed by field)."""
    found: list[str] = []
    for rule in rules:
        config = getattr(rule, str(getattr(rule, "kind", "")), None)
        if isinstance(config, list | dict):
            found += [f for f in config if isinstance(f, str)]
    return found


def flow_columns(
    spec: Spec, root: Path, nodes: dict[str, Node], edges: set[tuple[str, str]]
) -> tuple[list[ColumnEdge], dict[str, tuple[str, ...]]]:
    """Every flow's column edges, and the fields found for nodes that declare none (what
    flows write into them, what they are read for; a topic's subscriber queues carry its
    fields). Repeated until nothing new is found, since one flow's output is another's
    input."""
    known = {k: n.fields for k, n in nodes.items() if n.fields}
    subs = [(a, b) for a, b in edges if a.startswith("topic:") and b.startswith("queue:")]
    columns: list[ColumnEdge] = []
    for _ in range(len(spec.flows) + 2):
        current = {k: Node(n.id, n.kind, n.name, known.get(k, ())) for k, n in nodes.items()}
        written = [_one(spec, root, f, flow, current) for f, flow in spec.flows.items()]
        columns = sorted({c for cols, _ in written for c in cols}, key=_order)
        found = _found_fields(columns, [w for _, w in written], nodes, subs)
        if found == known:
            break
        known = found
    return columns, known


def _one(spec: Spec, root: Path, name: str, flow: Flow, nodes: dict[str, Node]) -> Written:
    """The flow's column edges, and the fields it writes into each sink node."""
    src = nodes[source_node(spec, flow.source_ref).id]
    flowing = Flowing(src.id, src.fields, root, spec)
    for step in flow.steps:
        flowing.step(step, nodes)
    if flow.window is not None:
        flowing.window(flow.window)
    targets = [nodes[sink_node(s).id] for s in sinks_of(flow).values()]
    return [c for t in targets for c in flowing.edges(name, t)], {
        t.id: set(flowing.fields) for t in targets
    }


def _found_fields(
    columns: list[ColumnEdge], writes: list[dict[str, set[str]]], nodes: dict[str, Node],
    subs: list[tuple[str, str]],
) -> dict[str, tuple[str, ...]]:  # fmt: skip
    seen: dict[str, set[str]] = {}
    for written in writes:
        for nid, names in written.items():
            seen.setdefault(nid, set()).update(names)
    for c in columns:
        seen.setdefault(c.source, set()).add(c.source_field)
        seen.setdefault(c.target, set()).add(c.target_field)
    for topic, queue in subs:
        seen.setdefault(queue, set()).update(seen.get(topic, set()))
    found = {k: tuple(sorted(v)) for k, v in seen.items() if v}
    return found | {k: n.fields for k, n in nodes.items() if n.fields}


def _order(c: ColumnEdge) -> tuple[str, ...]:
    return (c.flow, c.target, c.target_field, c.type, c.source, c.source_field, c.subtype)
