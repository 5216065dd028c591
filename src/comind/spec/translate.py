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
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from comind.spec.issues import SpecIssue
from comind.spec.positions import DocPath, Positions, dotted


def issues_from(
    errors: list[ErrorDetails], root: type[BaseModel], positions: Positions
) -> list[SpecIssue]:
    out = []
    for error in errors:
        path = error_path(error)
        kind = error["type"]
        message = describe(error, path, root)
        path = in_document(path, positions)
        if error["type"] == "missing":
            path = path[:-1]  # point at the mapping that lacks the key
        at_key = kind in ("extra_forbidden", "missing") or error.get("input", 0) is None
        pos = positions.key(path) if at_key else positions.value(path)
        out.append(SpecIssue(pos.file, pos.line, pos.column, dotted(path), message))
    return out


def in_document(path: DocPath, positions: Positions) -> DocPath:
    """``path`` as the document has it: a mapping the model reads as a list (quality rules
    written as one mapping) has no index there, so an index the document lacks is dropped."""
    if path in positions.values:
        return path
    for i, part in enumerate(path):
        shorter = (*path[:i], *path[i + 1 :])
        if isinstance(part, int) and shorter in positions.values:
            return shorter
    return path


def error_path(error: ErrorDetails) -> DocPath:
    """The document path of ``error``: pydantic's location without the step-kind tag it
    adds after a step's index (``steps, 0, cleanse, cleanse, trim``)."""
    loc = [p for p in error["loc"] if isinstance(p, str | int)]
    for i in range(len(loc) - 2, 1, -1):
        if loc[i - 2] == "steps" and isinstance(loc[i - 1], int) and loc[i] == loc[i + 1]:
            del loc[i]
    return tuple(loc)


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
        return f"must be {_BOUNDS[kind]} {_show(_bound(ctx))}, got {_show(value)}"
    if kind in ("too_short", "too_long"):
        bound = ("at least", ctx.get("min_length")) if kind == "too_short" else \
            ("at most", ctx.get("max_length"))  # fmt: skip
        return f"expected {bound[0]} {bound[1]} items, got {ctx.get('actual_length')}"
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


def _bound(ctx: dict[str, Any]) -> Any:
    return next((ctx[key] for key in ("ge", "le", "gt", "lt") if key in ctx), "")


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
    if key in ("True", "False"):  # YAML 1.1 reads on/off/yes/no as booleans
        hint = " (YAML reads an unquoted on, off, yes or no as a boolean; quote the key)"
    return f"unknown key '{key}'{hint}"


def _known_keys(root: type[BaseModel], path: DocPath) -> list[str]:
    """The keys the model accepts at ``path`` (aliases where set)."""
    model = _model(_type_at(root, path))
    return [f.alias or n for n, f in model.model_fields.items()] if model else []


def _type_at(root: type[BaseModel], path: DocPath) -> Any:
    """The annotation of the value at ``path`` (``None`` when the model has none)."""
    current: Any = root
    for part in path:
        model = _model(current)
        if model is not None:
            field = _field(model, part)
            current = field.annotation if field else None
        elif get_origin(_unwrap(current)) in (Union, types.UnionType):
            current = _member_field(_unwrap(current), part)
        elif get_origin(_unwrap(current)) in (dict, list):
            current = get_args(_unwrap(current))[-1]
        else:
            return None
    return current


def _member_field(union: Any, key: str | int) -> Any:
    """The annotation of ``key`` in the member of ``union`` that has it (a step's kind)."""
    for member in get_args(union):
        field = _field(_model(member), key)
        if field is not None:
            return field.annotation
    return None


def _model(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field(model: type[BaseModel] | None, key: str | int) -> FieldInfo | None:
    fields = model.model_fields.items() if model else ()
    return next((f for n, f in fields if (f.alias or n) == key), None)


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
