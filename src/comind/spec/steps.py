"""Flow steps as a discriminated union: each ``- KIND: CONFIG`` entry of a flow's ``steps``
validates into the model of its kind, so a typo, a wrong type or a bad duration in a step is
refused with its file:line before anything runs, and the flow engine builds each step from
a typed configuration (never from a raw mapping it would have to re-check).

The discriminator is the entry's one key; an entry with another key, or more than one,
is refused with the list of kinds. Checks that need the repo (a module, a schema file)
live in ``references``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from comind.spec.pii import PiiFields
from comind.spec.scalars import Duration, seconds, within
from comind.spec.strict import Strict

Fields = list[str]
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")
QUALITY_RULES = (
    "not_null", "unique", "range", "regex", "accepted",
    "type", "max_length", "freshness", "row_count", "sql",
)  # fmt: skip
DATASET_ONLY_RULES = ("freshness", "row_count", "sql")  # need the whole dataset, not a record
FieldType = Literal["string", "integer", "number", "boolean", "timestamp"]


def _callable(value: str) -> str:
    if not _CALLABLE.match(value):
        raise ValueError(f"expected module:function, got {value!r}")
    return value


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}: {value!r}") from None
    return value


def _ordered(bounds: list[int | float]) -> list[int | float]:
    if bounds[0] > bounds[1]:
        raise ValueError(f"expected [LOW, HIGH] with LOW <= HIGH, got {bounds}")
    return bounds


def _one_field(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


CallableRef = Annotated[str, AfterValidator(_callable)]
FieldNames = Annotated[list[str], BeforeValidator(_one_field)]  # one field may be given bare
Bounds = Annotated[list[int | float], Field(min_length=2, max_length=2), AfterValidator(_ordered)]
Accepted = list[Annotated[str | int | float | bool, Field(union_mode="left_to_right")]]


class Dedupe(Strict):
    key: Fields = Field(min_length=1)
    window: Annotated[Duration, within(1)] = seconds(600)


class Cleanse(Strict):
    trim: Fields = Field(default_factory=list)
    lower: Fields = Field(default_factory=list)
    upper: Fields = Field(default_factory=list)
    email: Fields = Field(default_factory=list)
    phone: Fields = Field(default_factory=list)
    types: dict[str, Literal["int", "float", "str", "bool", "datetime"]] = Field(
        default_factory=dict
    )
    dedupe: Dedupe | None = None


class Enrich(Strict):
    table: str = Field(pattern=r"^[a-z0-9-]+/[A-Za-z_][\w.]*$")
    by: str
    key: str = "id"
    fields: Fields | None = None
    as_: str | None = Field(None, alias="as")
    ttl: Duration = seconds(300)
    required: bool = False

    @property
    def app(self) -> str:
        return self.table.partition("/")[0]


class Route(Strict):
    field: str | None = None
    map: dict[str, str] = Field(default_factory=dict)
    default: str | None = None
    by: CallableRef | None = None

    @model_validator(mode="after")
    def _one(self) -> Route:
        if (self.field is None) == (self.by is None):
            raise ValueError("expected either field: (with map/default) or by: module:function")
        return self


class Aggregate(Strict):
    group_by: Fields = Field(default_factory=list)
    count: str | None = None
    sum: Fields = Field(default_factory=list)
    min: Fields = Field(default_factory=list)
    max: Fields = Field(default_factory=list)
    avg: Fields = Field(default_factory=list)


class Freshness(Strict):
    field: str
    max_age: Annotated[Duration, within(1)]


class RowCount(Strict):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("expected min:, max: or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"expected min <= max, got {self.min} > {self.max}")
        return self


def _query(value: str) -> str:
    if "{table}" not in value:
        raise ValueError("expected a query over {table} (the dataset's table)")
    if ";" in value.rstrip().rstrip(";"):
        raise ValueError("expected one query (no ';' inside)")
    return value.rstrip().rstrip(";")


class QualityRule(Strict):
    """One rule: exactly one rule key, optionally with ``severity``."""

    not_null: FieldNames | None = None
    unique: FieldNames | None = None
    range: dict[str, Bounds] | None = None
    regex: dict[str, Annotated[str, AfterValidator(_pattern)]] | None = None
    accepted: dict[str, Accepted] | None = None
    type: dict[str, FieldType] | None = None
    max_length: dict[str, Annotated[int, Field(ge=1)]] | None = None
    freshness: Freshness | None = None
    row_count: RowCount | None = None
    sql: Annotated[str, AfterValidator(_query)] | None = None
    severity: Literal["error", "warn"] = "error"

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, value: Any) -> Any:
        keys = [k for k in value if k != "severity"] if isinstance(value, dict) else []
        if len(keys) != 1 or keys[0] not in QUALITY_RULES:
            raise ValueError(f"expected one rule of {', '.join(QUALITY_RULES)}")
        return value

    @property
    def kind(self) -> str:
        return next(k for k in QUALITY_RULES if getattr(self, k) is not None)


def _rule_list(value: Any) -> Any:
    """``{not_null: [...], range: {...}}`` is the list of its rules, one per key."""
    return [{k: v} for k, v in value.items()] if isinstance(value, dict) else value


QualityRules = Annotated[list[QualityRule], BeforeValidator(_rule_list)]


class StepSpec(Strict):
    """A declared step: a one-key model whose key is the step's kind."""

    @property
    def kind(self) -> str:
        return next(iter(type(self).model_fields))

    @property
    def config(self) -> Any:
        """The step's configuration (typed in each subclass's one field)."""
        return getattr(self, next(iter(type(self).model_fields)))


class ValidateStep(StepSpec):
    validate_: str = Field(alias="validate")  # a JSON Schema file in the repo

    @property
    def kind(self) -> str:
        return "validate"


class CleanseStep(StepSpec):
    cleanse: Cleanse


class MapStep(StepSpec):
    map: CallableRef


class FilterStep(StepSpec):
    filter: CallableRef


class PythonStep(StepSpec):
    python: CallableRef


class EnrichStep(StepSpec):
    enrich: Enrich


class RouteStep(StepSpec):
    route: Route


class AnonymizeStep(StepSpec):
    anonymize: PiiFields


def _per_record(rules: list[QualityRule]) -> list[QualityRule]:
    for rule in rules:
        if rule.kind in DATASET_ONLY_RULES:
            raise ValueError(
                f"{rule.kind} needs the whole dataset: declare it under datasets.NAME.quality"
            )
    return rules


class QualityStep(StepSpec):
    quality: Annotated[QualityRules, AfterValidator(_per_record)]


class EncryptStep(StepSpec):
    encrypt: Any  # refused by ``references`` until governance brings it


class AggregateStep(StepSpec):
    aggregate: Aggregate


class DetectPii(Strict):
    """Inline PII detection: what to do with a value the detectors find."""

    action: Literal["quarantine", "anonymize"]
    min_score: float = Field(0.5, ge=0, le=1)
    fields: FieldNames | None = None  # None: every string field


class DetectPiiStep(StepSpec):
    detect_pii: DetectPii


STEP_MODELS: dict[str, type[StepSpec]] = {
    "validate": ValidateStep,
    "cleanse": CleanseStep,
    "map": MapStep,
    "filter": FilterStep,
    "enrich": EnrichStep,
    "route": RouteStep,
    "anonymize": AnonymizeStep,
    "python": PythonStep,
    "quality": QualityStep,
    "encrypt": EncryptStep,
    "aggregate": AggregateStep,
    "detect_pii": DetectPiiStep,
}
STEP_KINDS = tuple(STEP_MODELS)


def _kind(value: Any) -> str | None:
    if isinstance(value, StepSpec):
        return value.kind
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in STEP_MODELS:
        return str(next(iter(value)))
    return None


Step = Annotated[
    Annotated[ValidateStep, Tag("validate")]
    | Annotated[CleanseStep, Tag("cleanse")]
    | Annotated[MapStep, Tag("map")]
    | Annotated[FilterStep, Tag("filter")]
    | Annotated[EnrichStep, Tag("enrich")]
    | Annotated[RouteStep, Tag("route")]
    | Annotated[AnonymizeStep, Tag("anonymize")]
    | Annotated[PythonStep, Tag("python")]
    | Annotated[QualityStep, Tag("quality")]
    | Annotated[EncryptStep, Tag("encrypt")]
    | Annotated[AggregateStep, Tag("aggregate")]
    | Annotated[DetectPiiStep, Tag("detect_pii")],
    Discriminator(
        _kind,
        custom_error_type="step_kind",
        custom_error_message=f"expected one step of {', '.join(STEP_KINDS)}",
    ),
]
