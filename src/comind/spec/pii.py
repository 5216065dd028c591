"""How a PII field is handled: a dataset's ``pii:`` and the ``anonymize`` step.

Each field names one operator, bare (``email: hash``) or with its options
(``phone: {mask: {keep: 4}}``, ``zip: {generalize: {prefix: 3}}``, ``born: {generalize:
month}``, ``name: {replace: "[name]"}``, ``notes: {raw: "support needs the text"}``).
``raw`` keeps the value and needs a reason: it is the only way to write a declared field as
it came.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from comind.spec.strict import Strict

Operator = Literal[
    "hash", "mask", "redact", "replace", "tokenize", "generalize", "encrypt", "raw"
]  # fmt: skip
Generalization = Literal["month", "year", "network", "band", "prefix"]
_BARE = ("hash", "mask", "redact", "tokenize", "encrypt")


class PiiHandling(Strict):
    operator: Operator
    keep: int = Field(4, ge=0, le=64)  # mask: the last characters shown
    value: str = "[redacted]"  # replace: what the field becomes
    generalize: Generalization | None = None
    width: float | None = Field(None, gt=0)  # band: its width
    digits: int | None = Field(None, ge=0, le=64)  # prefix: the characters kept
    reason: str | None = Field(None, min_length=3)  # raw: why the value stays as it is

    @model_validator(mode="after")
    def _complete(self) -> PiiHandling:
        if self.operator == "raw" and not self.reason:
            raise ValueError('raw needs a reason: {raw: "why this field stays as it is"}')
        if self.generalize == "band" and self.width is None:
            raise ValueError("generalize band needs a width: {generalize: {band: 10}}")
        if self.generalize == "prefix" and self.digits is None:
            raise ValueError("generalize prefix needs a length: {generalize: {prefix: 3}}")
        return self


def _handling(value: Any) -> Any:
    """The spec's short forms as one shape: ``hash`` or ``{OPERATOR: OPTIONS}``."""
    if isinstance(value, str):
        if value not in _BARE:
            raise ValueError(
                f"expected one of {', '.join(_BARE)} or {{OPERATOR: OPTIONS}}, got {value!r}"
            )
        return {"operator": value}
    if not isinstance(value, dict) or len(value) != 1 or "operator" in value:
        return value  # the long form, or pydantic says what is wrong with it
    ((operator, options),) = value.items()
    return {"operator": operator, **_options(str(operator), options)}


def _options(operator: str, options: Any) -> dict[str, Any]:
    match operator, options:
        case _, None:
            return {}
        case "replace", str() | int() | float():
            return {"value": str(options)}
        case "raw", str():
            return {"reason": options}
        case "generalize", str():
            return {"generalize": options}
        case "generalize", {"band": width}:
            return {"generalize": "band", "width": width}
        case "generalize", {"prefix": digits}:
            return {"generalize": "prefix", "digits": digits}
        case "generalize", _:
            raise ValueError("generalize takes month, year, network, {band: WIDTH} or {prefix: N}")
        case _, dict():
            return dict(options)
    raise ValueError(f"unexpected options for {operator}: {options!r}")


Pii = Annotated[PiiHandling, BeforeValidator(_handling)]
PiiFields = dict[str, Pii]
