"""Turning pydantic's validation errors into positioned, human messages.

pydantic reports a location tuple and an error type; we map the location to the
YAML position (the key for unknown keys, the value otherwise, the parent mapping for
missing keys) and rewrite the message in the words a user of comind.yaml expects,
adding ``did you mean ...`` for a misspelled key.
"""

from __future__ import annotations

import difflib
import types
import typing
from datetime import date
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from comind.spec.issues import SpecIssue
from comind.spec.positions import DocPath, Positions, dotted


def issues_from(
    errors: list[ErrorDetails], root: type[BaseModel], positions: Positions
) -> list[SpecIssue]:
    out = []
    for error in errors:
        path: DocPath = tuple(p for p in error["loc"] if isinstance(p, str | int))
        kind = error["type"]
        message = describe(error, path, root)
        if error["type"] == "missing":
            path = path[:-1]  # point at the mapping that lacks the key
        pos = (
            positions.key(path) if kind in ("extra_forbidden", "missing") else positions.value(path)
        )
        out.append(SpecIssue(pos.file, pos.line, pos.column, dotted(path), message))
    return out


def describe(error: ErrorDetails, path: DocPath, root: type[BaseModel]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(str(path[-1]), _known_keys(root, path[:-1]))
    if kind == "missing":
        return f"missing required key '{path[-1]}'"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"expected one of {expected}, got {_show(value)}"
    if kind in _BOUNDS:
        return f"must be {_BOUNDS[kind]} {_bound(ctx)}, got {_show(value)}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_show(value)}{_hint(kind, value)}"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return str(error["msg"])


_BOUNDS = {
    "greater_than_equal": ">=",
    "less_than_equal": "<=",
    "greater_than": ">",
    "less_than": "<",
}
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, int | float | bool | date):
        return " (quote it to make it a string)"
    if kind != "string_type" and isinstance(value, str) and _looks_typed(value):
        return " (remove the quotes)"
    return ""


def _looks_typed(text: str) -> bool:
    if text.lower() in ("true", "false"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bound(ctx: dict[str, Any]) -> str:
    for key in ("ge", "le", "gt", "lt"):
        if key in ctx:
            return str(ctx[key])
    return ""


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, date):
        return repr(value.isoformat())
    return repr(value)


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{key}'{hint}"


def _known_keys(root: type[BaseModel], path: DocPath) -> list[str]:
    """The keys the model accepts at ``path`` (aliases where set)."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
            )
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            tp = members[0] if len(members) == 1 else tp
            if len(members) != 1:
                return tp
        else:
            return tp
