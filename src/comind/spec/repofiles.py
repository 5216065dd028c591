"""Files the spec names in the repo, judged from their text: ``module:function`` references
and JSON Schemas.

Validation never imports user code (an import may do anything); it finds the module file
and parses it, and the name must be bound at the module's top level (a ``def``, a class, an
assignment or an import). So a typo in a function name is refused at validation instead of
stopping every worker of the flow when it builds its steps. A name bound some other way
(``globals()[...] = ...``) is not seen; bind it plainly. A JSON Schema must be an object
that its own metaschema accepts, as the ``validate`` step and postgres sinks read it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from jsonschema import validators
from jsonschema.exceptions import SchemaError

MAX_MODULE = 1 << 20  # bytes of a module the platform parses (never imports)


def parse_module(file: Path) -> ast.Module:
    """``file`` parsed in the platform's process, never imported: ValueError saying why it
    cannot be, whatever the app wrote (red team 21f H8: a deeply nested expression raised
    RecursionError, which stopped the sync thread)."""
    if file.stat().st_size > MAX_MODULE:
        raise ValueError(f"{file.name} is over {MAX_MODULE >> 20} MiB")
    try:
        return ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    except (RecursionError, MemoryError):
        raise ValueError(f"{file.name} is nested too deeply to parse") from None


def callable_problem(root: Path, ref: str) -> str | None:
    """Why ``ref`` (``module:function``) cannot be found in the repo at ``root``, or None."""
    module, _, name = ref.partition(":")
    path = module.replace(".", "/")
    file = next(
        (f for f in (root / f"{path}.py", root / path / "__init__.py") if f.is_file()), None
    )
    if file is None:
        return f"no module {module} in the repo ({path}.py)"
    try:
        tree = parse_module(file)
    except ValueError as exc:
        return f"module {module} cannot be read: {exc}"
    if name not in _top_level_names(tree):
        return f"module {module} defines no {name} ({file.relative_to(root)})"
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).partition(".")[0] for a in node.names}
        elif isinstance(node, ast.If | ast.Try):  # conditional definitions count
            names |= _top_level_names(ast.Module(body=_branches(node), type_ignores=[]))
    return names


def _branches(node: ast.If | ast.Try) -> list[ast.stmt]:
    if isinstance(node, ast.If):
        return [*node.body, *node.orelse]
    handlers = [stmt for h in node.handlers for stmt in h.body]
    return [*node.body, *handlers, *node.orelse, *node.finalbody]


def schema_problem(schema: object) -> str | None:
    """Why ``schema`` is not a JSON Schema object the flow engine can use, or None."""
    if not isinstance(schema, dict):
        return "expected a JSON object at the top level"
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None
