"""The built-in steps and the step interface.

A step takes a batch and returns what it kept, what it quarantined (with reasons) and what
raised. Steps never drop a record silently: a record leaves a step kept, quarantined, failed
(retried by the runner, then dead-lettered) or filtered out by a ``filter`` the user wrote.
Each step is built from its validated spec model (``comind.spec.steps``), so a step never
re-checks or re-parses its configuration: what validated is what runs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from jsonschema import validators

from comind.errors import ComindError
from comind.flows.aggregate import Aggregate
from comind.flows.callables import deadline, load_callable
from comind.flows.gate import judge_batch
from comind.flows.pii_step import DetectPii
from comind.flows.privacy import PiiGuard
from comind.flows.records import Quarantined, Record, StepResult
from comind.governance import quality
from comind.spec import steps as declared
from comind.spec.pii import PiiHandling


class Step(Protocol):
    name: str

    def apply(self, records: list[Record]) -> StepResult: ...


@dataclass(frozen=True)
class StepContext:
    flow: str
    root: Path  # the repo checkout at the synced revision
    timeout: float = 30.0
    lookup: Callable[[declared.Enrich], Step] | None = None  # builds ``enrich`` steps
    guard: Callable[[dict[str, PiiHandling]], PiiGuard] | None = None  # ``anonymize``
    declared_pii: frozenset[str] = frozenset()  # fields the sink datasets declare in ``pii:``
    window: DedupeWindow | None = None  # where cleanse keeps delivered keys (None: memory)


class DedupeWindow(Protocol):
    """The keys of records delivered within a window (flows/rediscache.py ``RedisWindow``:
    shared by a flow's workers and kept across their restarts)."""

    def seen(self, keys: list[str]) -> set[str]: ...
    def mark(self, keys: Iterable[str], seconds: float) -> None: ...


class MemoryWindow:
    """A window in this process alone: for a flow run without Redis (a test of its steps)."""

    def __init__(self) -> None:
        self.until: dict[str, float] = {}

    def seen(self, keys: list[str]) -> set[str]:
        now = time.time()
        return {k for k in keys if self.until.get(k, 0) > now}

    def mark(self, keys: Iterable[str], seconds: float) -> None:
        now = time.time()
        self.until.update((k, now + seconds) for k in keys)
        if len(self.until) > 100_000:
            self.until = {k: t for k, t in self.until.items() if t > now}


def build_steps(steps: Sequence[declared.StepSpec], ctx: StepContext) -> list[Step]:
    """The steps of a flow, in order; one that cannot be built (a module that fails to
    import) raises with the step's position."""
    out = []
    for i, spec in enumerate(steps):
        try:
            out.append(build_step(spec, ctx))
        except Exception as exc:  # user code fails on import in many ways; say where
            raise ComindError(f"flow {ctx.flow}: step {i + 1} ({spec.kind}): {exc}") from None
    return out


def build_step(spec: declared.StepSpec, ctx: StepContext) -> Step:
    """The step a validated declaration describes."""
    match spec:
        case declared.ValidateStep():
            return Validate(spec.validate_, ctx)
        case declared.CleanseStep(cleanse=conf):
            return Cleanse(conf, ctx)
        case declared.MapStep(map=ref):
            return MapStep(ref, ctx)
        case declared.PythonStep(python=ref):
            return MapStep(ref, ctx, "python")
        case declared.FilterStep(filter=ref):
            return FilterStep(ref, ctx)
        case declared.RouteStep(route=conf):
            return Route(conf, ctx)
        case declared.AnonymizeStep(anonymize=actions):
            return Anonymize(actions, ctx)
        case declared.QualityStep(quality=rules):
            return Quality(rules, ctx)
        case declared.AggregateStep(aggregate=conf):
            return Aggregate(conf)
        case declared.DetectPiiStep(detect_pii=conf):
            return DetectPii(conf, ctx.declared_pii)
        case declared.EnrichStep(enrich=conf) if ctx.lookup is not None:
            return ctx.lookup(conf)
        case declared.EnrichStep():
            raise ComindError("enrich needs the platform's engines (run it in a worker)")
    raise ComindError(f"{spec.kind} is not available yet")


# -- validate


class Validate:
    def __init__(self, schema_file: str, ctx: StepContext) -> None:
        path = ctx.root / schema_file
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
    """``PATH: what is wrong``, from the schema's keyword and constraint alone: jsonschema's
    own message quotes the record's value, and reasons are shown to viewers unmasked."""
    path = [str(p) for p in error.absolute_path]
    keyword, limit = error.validator, error.validator_value
    if keyword == "required":  # the missing property (a schema name) is only in the message
        path.append(next((p for p in limit if error.message.startswith(repr(p))), "(property)"))
    template = _WHY.get(str(keyword), "fails {k}")
    shown = ", ".join(map(str, limit)) if isinstance(limit, list) else limit
    return f"{'/'.join(path) or '(record)'}: {template.format(k=keyword, v=shown)}"


# jsonschema keyword -> the reason, with {v} the schema's constraint (never the value)
_WHY = {
    "type": "not of type {v}", "format": "not a valid {v}", "enum": "not one of [{v}]",
    "const": "not the constant {v}", "required": "required", "minimum": "below minimum {v}",
    "maximum": "above maximum {v}", "exclusiveMinimum": "not above {v}",
    "exclusiveMaximum": "not below {v}", "multipleOf": "not a multiple of {v}",
    "minLength": "shorter than {v} characters", "maxLength": "longer than {v} characters",
    "pattern": "not matching the pattern {v}", "minItems": "fewer than {v} items",
    "maxItems": "more than {v} items", "uniqueItems": "has repeated items",
    "minProperties": "fewer than {v} properties", "maxProperties": "more than {v} properties",
    "additionalProperties": "has properties the schema does not allow",
    "unevaluatedProperties": "has properties the schema does not allow",
    "additionalItems": "has items the schema does not allow",
    "unevaluatedItems": "has items the schema does not allow",
    "propertyNames": "has a property name the schema does not allow",
    "dependentRequired": "lacks a property another one requires",
    "dependencies": "lacks what another property requires",
    "contains": "contains no item the schema allows",
    "anyOf": "matches none of the allowed schemas",
    "oneOf": "matches none or several of the allowed schemas",
    "not": "matches a forbidden schema",
}  # fmt: skip


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
    duplicates by key within a time window (a record is a duplicate of one the flow already
    delivered, by any of its workers; the runner marks keys delivered only after the sink
    commit)."""

    def __init__(self, conf: declared.Cleanse, ctx: StepContext) -> None:
        self.name = "cleanse"
        self.conf = conf
        dedupe = conf.dedupe
        self.dedupe_key: list[str] = list(dedupe.key) if dedupe else []
        self.dedupe_window = dedupe.window.total_seconds() if dedupe else 0.0
        self.window: DedupeWindow = ctx.window or MemoryWindow()

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        cleaned: list[tuple[Record, str | None]] = []
        for record in records:
            try:
                self._clean(record.value)
            except (TypeError, ValueError, OverflowError) as exc:
                out.quarantined.append(Quarantined(record, self.name, [str(exc)]))
                continue
            cleaned.append((record, self._key(record.value)))
        seen = self.window.seen(sorted({k for _, k in cleaned if k is not None}))
        for record, key in cleaned:
            if key is not None and key in seen:
                continue  # a duplicate: dropping it is this step's job
            if key is not None:
                seen.add(key)  # the batch's later records with this key are duplicates too
            out.kept.append(record)
        return out

    def committed(self, records: Iterable[Record]) -> None:
        if not self.dedupe_key:
            return
        keys = {key for r in records if (key := self._key(r.value)) is not None}
        if keys:
            self.window.mark(keys, self.dedupe_window)

    def _key(self, value: dict[str, Any]) -> str | None:
        if not self.dedupe_key or all(value.get(k) is None for k in self.dedupe_key):
            return None  # a record without the key is no one's duplicate
        return json.dumps([value.get(k) for k in self.dedupe_key], default=str)

    def _clean(self, value: dict[str, Any]) -> None:
        conf = self.conf
        for fields, fn in (
            (conf.trim, str.strip),
            (conf.lower, str.lower),
            (conf.upper, str.upper),
        ):
            for field in fields:
                if isinstance(value.get(field), str):
                    value[field] = fn(value[field])
        for field in conf.email:
            if isinstance(value.get(field), str):
                value[field] = value[field].strip().lower()
        for field in conf.phone:
            if value.get(field) is not None:
                value[field] = normalize_phone(str(value[field]))
        for field, kind in conf.types.items():
            if value.get(field) is not None:
                try:
                    value[field] = _TYPES[kind](value[field])
                except (TypeError, ValueError, OverflowError):  # the value stays out: PII
                    raise ValueError(f"{field}: cannot make it a {kind}") from None


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

    def __init__(self, ref: str, ctx: StepContext, kind: str = "map") -> None:
        self.fn = load_callable(ref, ctx.root)
        self.name = f"{kind}:{ref}"
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

    def __init__(self, ref: str, ctx: StepContext) -> None:
        super().__init__(ref, ctx, "filter")

    @staticmethod
    def _records(record: Record, result: Any) -> list[Record]:
        return [record] if result else []


# -- route


class Route:
    """Chooses each record's sink: ``{field: F, map: {value: sink}, default: sink}`` or
    ``{by: module:function}`` (returns a sink name)."""

    def __init__(self, conf: declared.Route, ctx: StepContext) -> None:
        self.name = "route"
        self.field = conf.field
        self.table = dict(conf.map)
        self.default = conf.default
        self.fn = load_callable(conf.by, ctx.root) if conf.by is not None else None

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
                why = (f"{self.field}: no route for its value"  # the value may be PII
                       if self.fn is None else "the route function chose no sink")  # fmt: skip
                out.quarantined.append(Quarantined(record, self.name, [why]))
            else:
                out.kept.append(record)
        return out


# -- anonymize and quality (the governance issue extends both)


class Anonymize:
    """The ``anonymize`` step: the PII operators on the fields it names (governance/privacy.py),
    with the flow's keys, as the sinks' own protection does."""

    def __init__(self, fields: dict[str, PiiHandling], ctx: StepContext) -> None:
        if ctx.guard is None:
            raise ComindError("an anonymize step needs the flow's PII keys")
        self.name = "anonymize"
        self.guard = ctx.guard(fields)

    def apply(self, records: list[Record]) -> StepResult:
        self.guard.apply(records)
        return StepResult(kept=records)


class Quality:
    """A flow's inline ``quality`` step: the per-record rules of governance.quality
    (``unique`` within the batch). A record breaking any ``error`` rule is quarantined with
    every rule it broke; ``warn`` rules only count."""

    def __init__(self, rules: list[declared.QualityRule], ctx: StepContext) -> None:
        self.name = "quality"
        self.flow = ctx.flow
        self.checks = quality.per_record(quality.checks(rules))

    def apply(self, records: list[Record]) -> StepResult:
        out = StepResult()
        for record, errors in judge_batch(self.checks, records, ""):
            if errors:
                out.quarantined.append(Quarantined(record, self.name, errors))
            else:
                out.kept.append(record)
        return out
