"""The lineage edges that are not data moving through a flow: what an app holds (its
datasets, tables, queues and object prefixes flow to it: the app reads them), and what an
alert watches (the apps, flows, queues and datasets its expression's label matchers name).

An alert's matchers are found in its expression's text (``app='orders'``,
``queue=~'.*-dlq'``), so any PromQL expression works, not only the subset the embedded
evaluator runs. Only positive matchers (``=``, ``=~``) name things; a regular expression is
matched against the names of that kind, as Prometheus matches it against label values.
"""

from __future__ import annotations

import re

from comind.governance.lineage_nodes import Node, node, node_id
from comind.spec import Spec

LABEL_KINDS = {"app": "app", "flow": "flow", "queue": "queue", "dataset": "dataset"}
_MATCHER = re.compile(
    r"""\b(app|flow|queue|dataset)\s*(=~|=)(?!=)\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")"""
)


def owner_edges(spec: Spec, nodes: dict[str, Node]) -> set[tuple[str, str]]:
    """Each dataset, table, queue and object prefix to the app that holds it."""
    buckets = {a.bucket.name: name for name, a in spec.apps.items() if a.bucket is not None}
    edges: set[tuple[str, str]] = set()
    for n in nodes.values():
        owner = _owner(spec, n, buckets)
        if owner in spec.apps:
            edges.add((n.id, node_id("app", owner)))
    return edges


def _owner(spec: Spec, n: Node, buckets: dict[str, str]) -> str | None:
    if n.kind == "dataset" and n.name in spec.datasets:
        return spec.datasets[n.name].store.partition("://")[2].partition("/")[0]
    if n.kind in ("table", "queue"):
        return n.name.partition("/")[0]
    if n.kind == "objects":
        return buckets.get(n.name.partition("/")[0])
    return None


def alert_edges(spec: Spec, nodes: dict[str, Node]) -> tuple[dict[str, Node], set[tuple[str, str]]]:
    """An alert node per alert, and an edge to it from every node its matchers name."""
    alerts: dict[str, Node] = {}
    edges: set[tuple[str, str]] = set()
    for alert in spec.alerts:
        aid = node_id("alert", alert.name)
        alerts[aid] = node("alert", alert.name)
        edges |= {(nid, aid) for nid in watched(alert.expr, nodes)}
    return alerts, edges


def watched(expr: str, nodes: dict[str, Node]) -> set[str]:
    """The ids of the nodes an expression's label matchers name."""
    found: set[str] = set()
    for label, op, single, double in _MATCHER.findall(expr):
        value = single if single or not double else double
        kind = LABEL_KINDS[label]
        if op == "=":
            found |= {n.id for n in nodes.values() if n.kind == kind and n.name == value}
            continue
        try:
            pattern = re.compile(value)
        except re.error:
            continue
        found |= {n.id for n in nodes.values() if n.kind == kind and pattern.fullmatch(n.name)}
    return found
