"""The lineage graph in the platform database, and the in-memory copy queries walk.

The graph of the applied revision is replaced whole, in one transaction, each time the
platform applies one (nodes, edges and column edges deleted and copied in again, then the
version bumped), so a reader sees the old graph or the new one, never a mix. Readers keep
the graph in memory with its adjacency (``lineage_walk.LineageIndex``) and reload it only
when the stored version moved on: a query costs one indexed read of the version plus a walk
in memory, whatever the depth (a recursive SQL walk follows every path, which explodes on
graphs with fan-in; see bench/lineage.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from comind.governance.lineage_nodes import ColumnEdge, LineageGraph, Node
from comind.governance.lineage_walk import LineageIndex
from comind.stores.postgres import Connection, Pool
from comind.stores.queries import named

_sql = named("comind.governance", "lineage")


class LineageStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._lock = threading.Lock()
        self._cached: tuple[int, LineageIndex] | None = None

    def replace(self, graph: LineageGraph, revision: str = "") -> int:
        """Store ``graph`` in place of the previous one; its new version."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(_sql("lock_version"))  # one replacement at a time
            for table in ("nodes", "edges", "columns"):
                conn.execute(_sql(f"clear_{table}"))
            _copy(conn, "copy_nodes", ((n.id, n.kind, n.name, list(n.fields))
                                       for n in graph.nodes.values()))  # fmt: skip
            _copy(conn, "copy_edges", graph.edges)
            _copy(conn, "copy_columns", (_column_row(c) for c in graph.columns))
            row = conn.execute(_sql("bump_version"), {"revision": revision}).fetchone()
        assert row is not None
        return int(row[0])

    def version(self) -> tuple[int, str]:
        """(version, revision) of the stored graph; (0, "") before the first."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("version")).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, "")

    def load(self) -> tuple[int, LineageGraph]:
        """The stored graph and its version, read from one snapshot."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(_sql("snapshot"))
            row = conn.execute(_sql("version")).fetchone()
            nodes = {r[0]: Node(r[0], r[1], r[2], tuple(r[3])) for r in conn.execute(_sql("nodes"))}
            edges = frozenset((a, b) for a, b in conn.execute(_sql("edges")))
            columns = tuple(ColumnEdge(*r) for r in conn.execute(_sql("columns")))
        return (int(row[0]) if row else 0), LineageGraph(nodes, edges, columns)

    def index(self) -> LineageIndex:
        """The stored graph, walkable; reloaded only when its version changed."""
        version, _ = self.version()
        with self._lock:
            if self._cached is None or self._cached[0] != version:
                loaded, graph = self.load()
                self._cached = (loaded, LineageIndex(graph))
            return self._cached[1]


def _column_row(c: ColumnEdge) -> Sequence[Any]:
    return (c.flow, c.source, c.source_field, c.target, c.target_field, c.type, c.subtype,
            c.masking)  # fmt: skip


def _copy(conn: Connection, query: str, rows: Iterable[Sequence[Any]]) -> None:
    with conn.cursor().copy(_sql(query)) as copy:
        for row in rows:
            copy.write_row(row)
