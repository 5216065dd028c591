"""Bad requests for every operation of the OpenAPI document: path and query parameters of the
wrong shape, bodies that are not JSON objects, and each body field with a value of the wrong
type. A platform answers every one with a 4xx and one line, never a 500."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PATH_VALUES = ("%2E%2E", "x" * 300, "a%00b", "%C3%A9t%C3%A9", "-1", "9" * 30, "a%2Fb%2F..")
QUERY_VALUES = {
    "integer": ("abc", "-5", "1e999", "9" * 30, ""),
    "string": ("x" * 5000, "%00", "{", "[1]", "%FF"),
}
RAW_BODIES = ("{", "[]", "null", "123", '"text"', "\xff")
WRONG = {
    "string": (1, [], {"a": 1}, "a\x00b"),
    "integer": ("x", 1.5, 10**30, -(10**30), True),
    "number": ("x", [], 1e400),
    "boolean": ("yes", 2),
    "array": ("x", {"a": 1}, [[[]]]),
    "object": ("x", [1]),
}
SKIPPED = {"/api/v1/hooks/git"}  # signed by the Git host: refused before anything is parsed


@dataclass(frozen=True)
class Bad:
    method: str
    url: str
    body: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.url[:120]} {(self.body or '')[:80]}"


def requests(doc: dict[str, Any]) -> Iterator[Bad]:
    for path, ops in doc["paths"].items():
        if path in SKIPPED:
            continue
        for method, op in ops.items():
            params = op.get("parameters", [])
            yield from _bad_paths(method.upper(), path, params)
            yield from _bad_queries(method.upper(), path, params)
            if method == "post":
                yield from _bad_bodies(doc, path, op)


def _fill(path: str, values: dict[str, str] | None = None) -> str:
    return re.sub(r"{(\w+)}", lambda m: (values or {}).get(m[1], "nope"), path)


def _bad_paths(method: str, path: str, params: list[dict[str, Any]]) -> Iterator[Bad]:
    for p in params:
        if p["in"] == "path":
            numeric = ("abc",) if p["schema"].get("type") == "integer" else ()
            body = "{}" if method == "POST" else None
            for value in (*PATH_VALUES, *numeric):
                yield Bad(method, _fill(path, {p["name"]: value}), body)


def _bad_queries(method: str, path: str, params: list[dict[str, Any]]) -> Iterator[Bad]:
    for p in params:
        if p["in"] == "query":
            for value in QUERY_VALUES.get(p["schema"].get("type", "string"), ()):
                yield Bad(method, f"{_fill(path)}?{p['name']}={value}",
                          "{}" if method == "POST" else None)  # fmt: skip


def _bad_bodies(doc: dict[str, Any], path: str, op: dict[str, Any]) -> Iterator[Bad]:
    url = _fill(path)
    for raw in RAW_BODIES:
        yield Bad("POST", url, raw)
    body = op.get("requestBody")
    if body is None or "application/json" not in body["content"]:
        return  # no body, or raw bytes (any bytes are a body): the raw bodies above cover it
    schema = _resolve(doc, body["content"]["application/json"]["schema"])
    for name, prop in schema.get("properties", {}).items():
        for kind in _types(_resolve(doc, prop)):
            for value in WRONG.get(kind, ()):
                if not _also_allowed(doc, prop, value):
                    yield Bad("POST", url, json.dumps({name: value}))


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property is declared with (through anyOf and oneOf)."""
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set(schema.get("type", []))
    for choice in (*schema.get("anyOf", []), *schema.get("oneOf", [])):
        found |= _types(choice)
    return found - {"null"}


def _also_allowed(doc: dict[str, Any], prop: dict[str, Any], value: object) -> bool:
    """Whether ``value`` is one of the property's other types (an int where number is fine)."""
    kinds = _types(_resolve(doc, prop))
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int):
        return bool(kinds & {"integer", "number"})
    if isinstance(value, float):
        return "number" in kinds
    if isinstance(value, str):
        return "string" in kinds
    return ("array" if isinstance(value, list) else "object") in kinds
