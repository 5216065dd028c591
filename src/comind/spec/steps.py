"""The configuration each flow step kind accepts, checked when the spec is loaded (so a
typo in a step is refused with its file:line before anything runs)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, TypeAdapter, model_validator

from comind.spec.model import Duration, PiiAction, Strict

Fields = list[str]
_CALLABLE = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


class Dedupe(Strict):
    key: Fields
    window: Duration = Field(600, ge=1)


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
    ttl: Duration = Field(300, ge=0)
    required: bool = False


class Route(Strict):
    field: str | None = None
    map: dict[str, str] = Field(default_factory=dict)
    default: str | None = None
    by: str | None = Field(None, pattern=_CALLABLE)

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


QUALITY = TypeAdapter(
    list[dict[Literal["not_null", "unique", "range", "regex", "accepted"], Any]]
    | dict[Literal["not_null", "unique", "range", "regex", "accepted"], Any]
)
CALLABLE = TypeAdapter(str)

STEP_CONFIGS: dict[str, TypeAdapter[Any]] = {
    "validate": TypeAdapter(str),
    "cleanse": TypeAdapter(Cleanse),
    "map": CALLABLE,
    "filter": CALLABLE,
    "python": CALLABLE,
    "enrich": TypeAdapter(Enrich),
    "route": TypeAdapter(Route),
    "anonymize": TypeAdapter(dict[str, PiiAction]),
    "quality": QUALITY,
    "aggregate": TypeAdapter(Aggregate),
}


STEP_MODELS: dict[str, type[Strict]] = {
    "cleanse": Cleanse,
    "enrich": Enrich,
    "route": Route,
    "aggregate": Aggregate,
}


def callable_ref(value: Any) -> str | None:
    """Why ``value`` is not a ``module:function`` reference, or None."""
    if not isinstance(value, str) or not re.fullmatch(_CALLABLE, value):
        return f"expected module:function, got {value!r}"
    return None
