"""The built-in steps and the step interface.

A step takes a batch and returns what it kept, what it quarantined (with reasons) and what
raised. Steps never drop a record silently: a record leaves a step kept, quarantined, failed
(retried by the runner, then dead-lettered) or filtered out by a ``filter`` the user wrote.
New kinds (the governance issue's anonymize/encrypt/quality extensions) register in
:data:`BUILDERS`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from jsonschema import validators

from comind.errors import ComindError
from comind.flows.aggregate import Aggregate
from comind.flows.callables import deadline, load_callable
from comind.flows.records import Quarantined, Record, StepResult


class Step(Protocol):
    name: str

    def apply(self, records: list[Record]) -> StepResult: ...


@dataclass(frozen=True)
class StepContext:
    flow: str
    root: Path  # the repo checkout at the synced revision
    timeout: float = 30.0
    lookup: Callable[[dict[str, Any]], Step] | None = None  # builds ``enrich`` steps


def build_steps(declared: list[dict[str, Any]], ctx: StepContext) -> list[Step]:
    """The steps of a flow, in order; a bad declaration raises with the step's position."""
    steps = []
    for i, entry in enumerate(declared):
        ((kind, conf),) = entry.items()
        builder = BUILDERS.get(kind)
        if builder is None:
            raise ComindError(f"flow {ctx.flow}: step {i + 1} ({kind}) is not available yet")
        try:
            steps.append(builder(conf, ctx))
        except Exception as exc:  # a bad declaration fails in many ways; say where
            raise ComindError(f"flow {ctx.flow}: step {i + 1} ({kind}): {exc}") from None
    return steps


# -- validate


class Validate:
    def __init__(self, conf: Any, ctx: StepContext) -> None:
        path = ctx.root / str(conf)
        self.name = "validate"
        try:
            schema = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ComindError(f"cannot read JSON Schema {path}: {exc}") from None
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        self.validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        for record in records:
            reasons = [_reason(e) for e in self.validator.iter_errors(record.value)]
            if reasons:
                out.quarantined.append(Quarantined(record, self.name, sorted(reasons)))
            else:
                out.kept.append(record)
        return out


def _reason(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where or '(record)'}: {error.message}"


# -- cleanse

_TYPES: dict[str, Callable[[Any], Any]] = {
    "int": lambda v: int(float(v)) if isinstance(v, str) and "." in v else int(v),
    "float": float,
    "str": str,
    "bool": lambda v: v if isinstance(v, bool) else str(v).strip().lower() in {"1", "true", "yes"},
    "datetime": lambda v: datetime.fromisoformat(str(v)).isoformat(),
}


class Cleanse:
    """trim / lower / upper fields, normalize phone numbers and emails, coerce types and drop
    duplicates by key within a time window (a record is a duplicate of one this worker
    already delivered; the runner marks keys delivered only after the sink commit)."""

    def __init__(self, conf: Any, ctx: StepContext) -> None:
        if not isinstance(conf, dict):
            raise ComindError(
                "expected a mapping (trim, lower, upper, phone, email, types, dedupe)"
            )
        unknown = set(conf) - {"trim", "lower", "upper", "phone", "email", "types", "dedupe"}
        if unknown:
            raise ComindError(f"unknown cleanse option(s) {', '.join(sorted(unknown))}")
        self.name = "cleanse"
        self.conf = conf
        for field, kind in conf.get("types", {}).items():
            if kind not in _TYPES:
                raise ComindError(f"types.{field}: expected one of {', '.join(_TYPES)}")
        dedupe = conf.get("dedupe") or {}
        self.dedupe_key: list[str] = list(dedupe.get("key", []))
        self.dedupe_window = float(dedupe.get("window", 600))
        self.seen: dict[str, float] = {}

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        batch_keys: set[str] = set()
        now = time.time()
        for record in records:
            try:
                self._clean(record.value)
            except (TypeError, ValueError, OverflowError) as exc:
                out.quarantined.append(Quarantined(record, self.name, [str(exc)]))
                continue
            key = self._key(record.value)
            if key is not None and (key in batch_keys or self.seen.get(key, 0) > now):
                continue  # a duplicate: dropping it is this step's job
            if key is not None:
                batch_keys.add(key)
            out.kept.append(record)
        return out

    def committed(self, records: Iterable[Record]) -> None:
        if not self.dedupe_key:
            return
        until = time.time() + self.dedupe_window
        for record in records:
            if (key := self._key(record.value)) is not None:
                self.seen[key] = until
        if len(self.seen) > 100_000:
            now = time.time()
            self.seen = {k: t for k, t in self.seen.items() if t > now}

    def _key(self, value: dict[str, Any]) -> str | None:
        if not self.dedupe_key or all(value.get(k) is None for k in self.dedupe_key):
            return None  # a record without the key is no one's duplicate
        return json.dumps([value.get(k) for k in self.dedupe_key], default=str)

    def _clean(self, value: dict[str, Any]) -> None:
        conf = self.conf
        for op, fn in (("trim", str.strip), ("lower", str.lower), ("upper", str.upper)):
            for field in conf.get(op, []):
                if isinstance(value.get(field), str):
                    value[field] = fn(value[field])
        for field in conf.get("email", []):
            if isinstance(value.get(field), str):
                value[field] = value[field].strip().lower()
        for field in conf.get("phone", []):
            if value.get(field) is not None:
                value[field] = normalize_phone(str(value[field]))
        for field, kind in conf.get("types", {}).items():
            if value.get(field) is not None:
                try:
                    value[field] = _TYPES[kind](value[field])
                except (TypeError, ValueError, OverflowError):
                    raise ValueError(f"{field}: cannot make {value[field]!r} a {kind}") from None


def normalize_phone(raw: str) -> str:
    """Digits only, ``+`` kept in front (``00`` becomes ``+``)."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+"):
        return "+" + digits
    return "+" + digits[2:] if digits.startswith("00") else digits


# -- map / filter / python


class MapStep:
    """A user function per record: returns the new record (a dict), a list of records, or
    None to drop it."""

    def __init__(self, conf: Any, ctx: StepContext, kind: str = "map") -> None:
        self.fn = load_callable(str(conf), ctx.root)
        self.name = f"{kind}:{conf}"
        self.timeout = ctx.timeout

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        for record in records:
            try:
                with deadline(self.timeout):
                    result = self.fn(record.value)
                out.kept += self._records(record, result)
            except Exception as exc:  # user code: any error is the record's error
                out.failed.append((record, exc))
        return out

    @staticmethod
    def _records(record: Record, result: Any) -> list[Record]:
        if result is None:
            return []
        values = result if isinstance(result, list) else [result]
        if not all(isinstance(v, dict) for v in values):
            raise TypeError(
                f"a map step must return a dict, a list of dicts or None, got {result!r}"
            )
        return [Record(v, record.ref, record.enqueued_at, record.route) for v in values]


class FilterStep(MapStep):
    """A user predicate per record: the record is kept when it returns true."""

    def __init__(self, conf: Any, ctx: StepContext) -> None:
        super().__init__(conf, ctx, "filter")

    @staticmethod
    def _records(record: Record, result: Any) -> list[Record]:
        return [record] if result else []


# -- route


class Route:
    """Chooses each record's sink: ``{field: F, map: {value: sink}, default: sink}`` or
    ``{by: module:function}`` (returns a sink name)."""

    def __init__(self, conf: Any, ctx: StepContext) -> None:
        if not isinstance(conf, dict) or not ({"field", "by"} & set(conf)):
            raise ComindError(
                "expected {field: F, map: {VALUE: SINK}, default: SINK} or {by: module:function}"
            )
        self.name = "route"
        self.field = conf.get("field")
        self.table = {str(k): str(v) for k, v in (conf.get("map") or {}).items()}
        self.default = conf.get("default")
        self.fn = load_callable(conf["by"], ctx.root) if "by" in conf else None

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        for record in records:
            try:
                if self.fn is not None:
                    chosen = self.fn(record.value)
                    record.route = None if chosen is None else str(chosen)
                else:
                    value = record.value.get(str(self.field))
                    record.route = self.table.get(str(value), self.default)
            except Exception as exc:  # user code
                out.failed.append((record, exc))
                continue
            if record.route is None:
                why = (f"{self.field}: no route for {record.value.get(str(self.field))!r}"
                       if self.fn is None else "the route function chose no sink")  # fmt: skip
                out.quarantined.append(Quarantined(record, self.name, [why]))
            else:
                out.kept.append(record)
        return out


# -- anonymize and quality (the governance issue extends both)


def _hash(v: Any) -> Any:
    return hashlib.sha256(str(v).encode()).hexdigest()


def _mask(v: Any) -> Any:
    s = str(v)
    shown = 4 if len(s) > 8 else 0  # a short value would be mostly shown: mask it all
    return "*" * (len(s) - shown) + s[len(s) - shown :]


_ANONYMIZERS: dict[str, Callable[[Any], Any]] = {
    "hash": _hash,
    "mask": _mask,
    "redact": lambda v: None,
}


class Anonymize:
    def __init__(self, conf: Any, ctx: StepContext) -> None:
        if not isinstance(conf, dict):
            raise ComindError("expected {field: hash|mask|redact}")
        for field, action in conf.items():
            if action not in _ANONYMIZERS:
                raise ComindError(f"{field}: '{action}' is not available yet (hash, mask, redact)")
        self.name = "anonymize"
        self.actions = {f: _ANONYMIZERS[a] for f, a in conf.items()}

    def apply(self, records: list[Record]) -> StepResult:
        for record in records:
            for field, fn in self.actions.items():
                if record.value.get(field) is not None:
                    record.value[field] = fn(record.value[field])
        return StepResult(kept=records)


class Quality:
    """Rules ``not_null``, ``range``, ``accepted``, ``regex`` and ``unique`` (within the
    batch); a record breaking any is quarantined with every rule it broke."""

    def __init__(self, conf: Any, ctx: StepContext) -> None:
        rules = conf if isinstance(conf, list) else [{k: v} for k, v in dict(conf).items()]
        self.name = "quality"
        self.checks: list[Callable[[dict[str, Any], dict[str, set[str]]], list[str]]] = []
        for rule in rules:
            ((kind, arg),) = rule.items()
            self.checks.append(_rule(kind, arg))

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        seen: dict[str, set[str]] = {}
        for record in records:
            reasons = [r for check in self.checks for r in check(record.value, seen)]
            if reasons:
                out.quarantined.append(Quarantined(record, self.name, reasons))
            else:
                out.kept.append(record)
        return out


def _rule(kind: str, arg: Any) -> Callable[[dict[str, Any], dict[str, set[str]]], list[str]]:
    if kind in ("not_null", "unique") and isinstance(arg, str):
        arg = [arg]  # one field
    if kind == "not_null":
        return lambda v, _: [f"{f}: is null" for f in arg if v.get(f) is None]
    if kind == "range":
        return lambda v, _: [
            f"{f}: {v[f]!r} outside [{lo}, {hi}]"
            for f, (lo, hi) in arg.items()
            if v.get(f) is not None and not _in_range(v[f], lo, hi)
        ]
    if kind == "accepted":
        return lambda v, _: [
            f"{f}: {v[f]!r} is not one of {allowed}"
            for f, allowed in arg.items()
            if v.get(f) is not None and v[f] not in allowed
        ]
    if kind == "regex":
        patterns = {f: re.compile(p) for f, p in arg.items()}
        return lambda v, _: [
            f"{f}: {v[f]!r} does not match {p.pattern}"
            for f, p in patterns.items()
            if v.get(f) is not None and not p.fullmatch(str(v[f]))
        ]
    if kind == "unique":
        return lambda v, seen: _unique(v, list(arg), seen)
    raise ComindError(f"unknown quality rule '{kind}' (not_null, range, accepted, regex, unique)")


def _in_range(value: Any, lo: Any, hi: Any) -> bool:
    try:
        return bool(lo <= float(value) <= hi)
    except (TypeError, ValueError):
        return False


def _unique(value: dict[str, Any], fields: list[str], seen: dict[str, set[str]]) -> list[str]:
    key = json.dumps([value.get(f) for f in fields], default=str)
    bucket = seen.setdefault(",".join(fields), set())
    if key in bucket:
        return [f"{','.join(fields)}: duplicate {key}"]
    bucket.add(key)
    return []


def _enrich(conf: Any, ctx: StepContext) -> Step:
    if ctx.lookup is None:
        raise ComindError("enrich needs the platform's engines (run it in a worker)")
    return ctx.lookup(dict(conf))


BUILDERS: dict[str, Callable[[Any, StepContext], Step]] = {
    "validate": Validate,
    "cleanse": Cleanse,
    "map": MapStep,
    "python": lambda conf, ctx: MapStep(conf, ctx, "python"),
    "filter": FilterStep,
    "route": Route,
    "anonymize": Anonymize,
    "quality": Quality,
    "enrich": _enrich,
    "aggregate": Aggregate,
}
