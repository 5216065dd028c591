"""Quality rules over records: the one evaluation behind a flow's ``quality`` step and the
dataset gate (a dataset's per-record rules run on the records a flow writes into it).

A rule expands into checks, one per field it names (``unique`` over several fields is one
check on their combination). A check's ``name`` is the rule as the spec states it
(``range total [0, 100000]``): it is the reason a quarantined record carries, the ``rule``
label of the metrics and the key of stored results. It never holds the record's value,
which may be personal data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comind.spec import steps as declared

Seen = dict[str, set[Any]]  # values already met by each ``unique`` check, within one batch
Test = Callable[[dict[str, Any], Seen], bool]  # True: the record passes


@dataclass(frozen=True)
class Check:
    kind: str
    name: str
    severity: str
    fields: tuple[str, ...]
    test: Test | None = None  # None: a whole-dataset check (freshness, row_count, sql)
    rule: declared.QualityRule | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Verdict:
    """What the checks say about one record: the error rules it broke, the warn rules."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_PASSED = Verdict()  # shared: never appended to


def checks(rules: Sequence[declared.QualityRule]) -> list[Check]:
    return [c for rule in rules for c in _expand(rule)]


def per_record(all_checks: Sequence[Check]) -> list[Check]:
    return [c for c in all_checks if c.test is not None]


def judge(value: dict[str, Any], record_checks: Sequence[Check], seen: Seen) -> Verdict:
    broken = [c for c in record_checks if c.test is not None and not c.test(value, seen)]
    if not broken:  # the common case, on the hot path of every record written
        return _PASSED
    return Verdict([c.name for c in broken if c.severity == "error"],
                   [c.name for c in broken if c.severity != "error"])  # fmt: skip


def _expand(rule: declared.QualityRule) -> list[Check]:
    kind, sev = rule.kind, rule.severity

    def one(name: str, fields: Sequence[str], test: Test | None) -> Check:
        return Check(kind, f"{kind} {name}".rstrip(), sev, tuple(fields), test, rule)

    match kind:
        case "not_null":
            return [one(f, [f], _not_null(f)) for f in rule.not_null or []]
        case "unique":
            keys = rule.unique or []
            return [one(",".join(keys), keys, _unique(keys))]
        case "range":
            return [one(f"{f} [{lo}, {hi}]", [f], _range(f, lo, hi))
                    for f, (lo, hi) in (rule.range or {}).items()]  # fmt: skip
        case "accepted":
            return [one(f"{f} [{', '.join(str(a) for a in allowed)}]", [f], _accepted(f, allowed))
                    for f, allowed in (rule.accepted or {}).items()]  # fmt: skip
        case "regex":
            return [one(f"{f} {p}", [f], _regex(f, p)) for f, p in (rule.regex or {}).items()]
        case "type":
            return [one(f"{f} {t}", [f], _typed(f, t)) for f, t in (rule.type or {}).items()]
        case "max_length":
            return [one(f"{f} {n}", [f], _max_length(f, n))
                    for f, n in (rule.max_length or {}).items()]  # fmt: skip
        case "freshness":
            assert rule.freshness is not None
            age = rule.freshness.max_age.total_seconds()
            return [one(f"{rule.freshness.field} {_duration(age)}", [rule.freshness.field], None)]
        case "row_count":
            assert rule.row_count is not None
            low, high = rule.row_count.min, rule.row_count.max
            return [
                one(f"[{'' if low is None else low}, {'' if high is None else high}]", [], None)
            ]
    return [one(_one_line(rule.sql or ""), [], None)]


def _duration(secs: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size and secs % size == 0:
            return f"{int(secs // size)}{unit}"
    return f"{int(secs)}s"


def _one_line(query: str) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."


# -- the per-record tests (a null passes every rule but not_null, as in SQL)


def _not_null(f: str) -> Test:
    return lambda v, _: v.get(f) is not None


def _unique(keys: list[str]) -> Test:
    label = ",".join(keys)

    def test(v: dict[str, Any], seen: Seen) -> bool:
        values = tuple((type(x), x) for x in (v.get(f) for f in keys))  # 1, 1.0, True differ
        key: Any = values
        try:
            hash(values)
        except TypeError:  # a list or an object: compare its JSON
            key = json.dumps([v.get(f) for f in keys], default=str, sort_keys=True)
        bucket: set[Any] = seen.setdefault(label, set())
        if key in bucket:
            return False
        bucket.add(key)
        return True

    return test


def _range(f: str, lo: float, hi: float) -> Test:
    def test(v: dict[str, Any], _: Seen) -> bool:
        x = v.get(f)
        if x is None:
            return True
        try:
            return bool(lo <= float(x) <= hi) and not isinstance(x, bool)
        except (TypeError, ValueError):
            return False

    return test


def _accepted(f: str, allowed: list[Any]) -> Test:
    return lambda v, _: v.get(f) is None or v[f] in allowed


def _regex(f: str, pattern: str) -> Test:
    compiled = re.compile(pattern)
    return lambda v, _: v.get(f) is None or compiled.fullmatch(str(v[f])) is not None


def _max_length(f: str, n: int) -> Test:
    return lambda v, _: v.get(f) is None or len(str(v[f])) <= n


def _typed(f: str, kind: str) -> Test:
    is_type = _TYPES[kind]
    return lambda v, _: v.get(f) is None or is_type(v[f])


def _timestamp(x: Any) -> bool:
    if isinstance(x, datetime):
        return True
    if not isinstance(x, str):
        return False
    try:
        datetime.fromisoformat(x)
    except ValueError:
        return False
    return True


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, int | float) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "timestamp": _timestamp,
}
