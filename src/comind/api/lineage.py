"""``/api/v1/lineage``: the lineage graph of the applied spec, in the shape of Marquez's
lineage API (``{"graph": [{id, type, data, inEdges, outEdges}]}``).

- ``GET /api/v1/lineage?node=dataset:NAME&depth=N``: the node's upstream and downstream
  within ``depth`` edges (every node without ``node``);
- ``GET /api/v1/lineage/column?node=dataset:NAME&field=F&depth=N``: where one field comes
  from and goes to;
- ``GET /api/v1/lineage/impact?node=dataset:NAME[&field=F]&depth=N``: everything
  downstream, with its distance.

A bare ``NAME`` is a dataset. A viewer token reads them; the graph spans every app, so a
token limited to one app is refused. Answers come from the stored graph, walked in memory
(``governance/lineage_store.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Call, Guard
from comind.governance.lineage_metrics import QUERY_SECONDS
from comind.governance.lineage_nodes import node_id, split_id
from comind.governance.lineage_store import LineageStore
from comind.governance.lineage_walk import DEFAULT_DEPTH, MAX_DEPTH, LineageIndex, UnknownNode


class LineageApi:
    def __init__(self, store: LineageStore, guard: Guard) -> None:
        self.store, self.guard = store, guard

    def routes(self) -> list[Route]:
        return [
            self.guard.route("/api/v1/lineage", self.graph),
            self.guard.route("/api/v1/lineage/column", self.column),
            self.guard.route("/api/v1/lineage/impact", self.impact),
        ]

    def graph(self, call: Call) -> dict[str, Any]:
        node = call.text("node")
        return self._walk("graph", lambda ix: {"graph": ix.neighbourhood(
            _node(node) if node else None, _depth(call))})  # fmt: skip

    def column(self, call: Call) -> dict[str, Any]:
        node, field = _node(_required(call, "node")), _required(call, "field")
        return self._walk(
            "column", lambda ix: {"graph": ix.column_graph(node, field, _depth(call))}
        )

    def impact(self, call: Call) -> dict[str, Any]:
        node, field = _node(_required(call, "node")), call.text("field")
        return self._walk("impact", lambda ix: {"node": node, "field": field,
                                      "impact": ix.impact(node, field, _depth(call))})  # fmt: skip

    def _walk(self, query: str, walk: Callable[[LineageIndex], dict[str, Any]]) -> dict[str, Any]:
        with QUERY_SECONDS.labels(query).time():
            try:
                answer: dict[str, Any] = walk(self.store.index())
            except UnknownNode as exc:
                raise Problem(str(exc), 404) from None
        return answer


def _depth(call: Call) -> int:
    return call.number("depth", DEFAULT_DEPTH, 1, MAX_DEPTH)


def _required(call: Call, key: str) -> str:
    value = call.text(key)
    if value is None:
        raise Problem(f"{key} is required", 400)
    return value


def _node(text: str) -> str:
    """``KIND:NAME``, or a bare name as a dataset."""
    return node_id(*split_id(text))
