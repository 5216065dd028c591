"""Mutants of the shop example's comind.yaml, for property-based tests.

A mutant replaces a value, deletes a key or adds one, anywhere in the document; the values
come from a vocabulary of what users write (durations good and bad, cron fields, references
that resolve and ones that dangle, whole steps) plus arbitrary scalars.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

EXAMPLE = Path(__file__).parents[1] / "examples" / "shop"
BASE: dict[str, Any] = yaml.safe_load((EXAMPLE / "comind.yaml").read_text())

DocPath = tuple[str | int, ...]

DURATIONS = [0, 1, 30, 3600, 43201, -1, "0s", "5m", "10m", "1h30m", "2d", "1w", "90s",
             "5 minutes", "1h 30m", "5ms", "m5", ""]  # fmt: skip
CRONS = ["0 1 * * *", "*/5 * * * *", "@daily", "61 25 * * *", "0 0 31 2 *", "* * *",
         "0 */0 * * *", "0 1 * * MON-FRI"]  # fmt: skip
REFERENCES = ["http://orders", "http://nope", "queue://orders/order-events", "queue://orders/nope",
              "topic://order-placed", "topic://nope", "postgres://orders/enriched_orders",
              "postgres://nope/x", "objects://analytics-lake/in/", "objects://nope/in/",
              "orders/customers", "nope/customers", "orders.enriched_orders", "analytics.nope",
              "order-placed", "orders/order-events", "orders/nope", "orders.flows:score",
              "orders.flows:scor",
              "nowhere:fn", "schemas/order.json", "schemas/nope.json", "orders",
              "nope"]  # fmt: skip
STEPS: list[dict[str, Any]] = [
    {"quality": {"range": {"total": [0, 10]}, "not_null": "id"}},
    {"quality": [{"regex": {"email": ".+@.+"}}, {"accepted": {"currency": ["EUR"]}}]},
    {"quality": [{"type": {"total": "number"}}, {"max_length": {"email": 9}, "severity": "warn"}]},
    {"quality": [{"freshness": {"field": "created_at", "max_age": "1h"}}]},  # dataset-only
    {"quality": [{"type": {"total": "decimal"}}]},
    {"cleanse": {"dedupe": {"key": ["id"], "window": "10m"}, "types": {"total": "float"}}},
    {"cleanse": {"dedupe": {"key": ["id"], "window": "ten minutes"}}},
    {"route": {"field": "currency", "map": {"EUR": "table"}, "default": "events"}},
    {"route": {"field": "currency", "map": {"EUR": "nowhere"}}},
    {"anonymize": {"email": "hash", "phone": "mask"}},
    {"anonymize": {"email": "tokenize"}},
    {"enrich": {"table": "orders/customers", "by": "customer_id", "ttl": "5m"}},
    {"enrich": {"table": "orders/customers", "by": "customer_id", "ttl": "5 min"}},
    {"aggregate": {"group_by": ["currency"], "count": "n", "sum": ["total"]}},
    {"filter": "orders.flows:score"},
    {"encrypt": {"email": "k"}},
]
RULES: list[dict[str, Any]] = [  # a dataset's quality rules, good and bad
    {"type": {"total": "number"}, "severity": "warn"},
    {"severity": "warn"},
    {"range": {"total": [0, 10]}, "severity": "fatal"},
    {"max_length": {"email": 0}},
    {"freshness": {"field": "created_at", "max_age": "1h"}},
    {"freshness": {"field": "created_at", "max_age": "an hour"}},
    {"row_count": {"min": 1}},
    {"row_count": {"min": 5, "max": 1}},
    {"row_count": {}},
    {"sql": "SELECT id FROM {table} WHERE total < 0"},
    {"sql": "SELECT 1"},
    {"sql": "SELECT 1 FROM {table}; DROP TABLE x"},
]
KEYS = ["ttl", "window", "schedule", "source", "sink", "steps", "retention", "max_wait", "for",
        "visibility_timeout", "depends_on", "secrets", "partition", "upsert_on", "format",
        "subscribers", "store", "quality", "kind", "on_demand", "severity", "max_age",
        "bogus"]  # fmt: skip

VALUES = st.one_of(
    st.sampled_from(DURATIONS),
    st.sampled_from(CRONS),
    st.sampled_from(REFERENCES),
    st.sampled_from(STEPS),
    st.sampled_from(RULES),
    st.sampled_from([None, True, False, [], {}, 1.5, ["id"], {"key": ["id"]}]),
    st.integers(min_value=-2, max_value=100_000),
    st.text(alphabet="abc:/{}*5 m-", max_size=8),
)


def paths(data: Any, at: DocPath = ()) -> list[DocPath]:
    """Every path below the root of ``data``."""
    out: list[DocPath] = []
    children = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in children:
        out.append((*at, key))
        out += paths(value, (*at, key))
    return out


ALL_PATHS = paths(BASE)


def get(data: Any, path: DocPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _containers() -> list[DocPath]:
    return [p for p in [(), *ALL_PATHS] if isinstance(get(BASE, p), dict | list)]


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, DocPath, Any]:
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if kind == "add":
        return kind, draw(st.sampled_from(_containers())), draw(VALUES)
    return kind, draw(st.sampled_from(ALL_PATHS)), draw(VALUES)


def apply(doc: dict[str, Any], change: tuple[str, DocPath, Any], key: str) -> None:
    """One change in place; a path a previous change removed is skipped."""
    kind, path, value = change
    try:
        target = get(doc, path if kind == "add" else path[:-1])
    except (KeyError, IndexError, TypeError):
        return
    if kind == "add":
        if isinstance(target, dict):
            target[key] = value
        elif isinstance(target, list):
            target.append(value)
        return
    last = path[-1]
    if (isinstance(target, dict) and last in target) or (
        isinstance(target, list) and (isinstance(last, int) and last < len(target))
    ):
        if kind == "delete":
            del target[last]  # type: ignore[arg-type]
        else:
            target[last] = value  # type: ignore[index]


@st.composite
def mutant(draw: st.DrawFn) -> dict[str, Any]:
    """The example with one to three changes."""
    doc = copy.deepcopy(BASE)
    for change in draw(st.lists(mutation(), min_size=1, max_size=3)):
        apply(doc, change, draw(st.sampled_from(KEYS)))
    return doc
