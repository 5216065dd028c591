"""Column mappings a flow module declares for its functions, read from its source text.

The platform never imports app code (an import may do anything), so a ``map``/``python``
or ``filter`` function that wants precise column lineage declares it in a module-level
literal the platform reads with ``ast.literal_eval``::

    LINEAGE = {
        "to_fact": {"order_id": "id", "day": ["created_at"]},   # out: "in" copies (IDENTITY),
                                                                # out: [in, ...] computes
        "score": {"*": "*", "score": ["total"], "scored_at": []},  # "*": "*" keeps the rest
        "big_orders": ["total"],                                  # a filter: the fields it reads
    }

Anything else (no ``LINEAGE``, a non-literal value, a wrong shape) is as if nothing were
declared: the step is an opaque TRANSFORMATION of every field it passes on.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TypeGuard

from comind.spec.repofiles import parse_module

Mapping = dict[str, str | list[str]]
Declared = Mapping | list[str]


def declared(root: Path, ref: str) -> Declared | None:
    """What ``ref`` (``module:function``) declares in its module's ``LINEAGE``, or None."""
    module, _, name = ref.partition(":")
    entry = _module_lineage(root, module).get(name)
    return entry if _well_formed(entry) else None


def _well_formed(entry: object) -> TypeGuard[Declared]:
    if isinstance(entry, list):
        return all(isinstance(f, str) for f in entry)
    if not isinstance(entry, dict):
        return False
    return all(
        isinstance(k, str)
        and (isinstance(v, str) or (isinstance(v, list) and all(isinstance(f, str) for f in v)))
        for k, v in entry.items()
    )


def _module_lineage(root: Path, module: str) -> dict[str, object]:
    path = module.replace(".", "/")
    file = next(
        (f for f in (root / f"{path}.py", root / path / "__init__.py") if f.is_file()), None
    )
    try:
        tree = parse_module(file) if file else None
    except (OSError, ValueError):
        return {}
    for stmt in tree.body if tree else []:
        value = _lineage_value(stmt)
        if value is not None:
            try:
                found = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                return {}  # not a literal the platform can read: no declared lineage
            return found if isinstance(found, dict) else {}
    return {}


def _lineage_value(stmt: ast.stmt) -> ast.expr | None:
    """The value of a top-level ``LINEAGE = ...`` (or ``LINEAGE: T = ...``)."""
    if isinstance(stmt, ast.Assign):
        names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        return stmt.value if "LINEAGE" in names else None
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.value if stmt.target.id == "LINEAGE" else None
    return None
