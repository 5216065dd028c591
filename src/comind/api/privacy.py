"""The privacy API: ``GET /api/v1/privacy/report`` (viewer: per dataset and field, the
declared PII handling and where it is applied), ``GET /api/v1/privacy/scan/{dataset}?sample=N``
(operator of the dataset's app: its stored rows scanned for undeclared PII; fields and
detectors, never a value) and ``POST /api/v1/privacy/detokenize``
(operator of the dataset's app: tokens back to their values). Every detokenize call is
audited, allowed or refused, with the dataset, the field, how many tokens were asked for and
how many opened; never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard

Token = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class DetokenizeBody(BaseModel):
    dataset: str = Field(max_length=200, description="the dataset the tokens were read from")
    field: str = Field(max_length=200, description="the field holding them")
    tokens: list[Token] = Field(min_length=1, max_length=1000)


class DetokenizeAnswer(BaseModel):
    values: dict[str, str | None] = Field(description="token → value (null: not a token)")


class PiiField(BaseModel):
    dataset: str | None = Field(description="null for an anonymize step's field")
    field: str
    operator: str = Field(description="hash, mask, redact, replace, tokenize, generalize, "
                                      "encrypt or raw")  # fmt: skip
    options: dict[str, Any]
    reason: str | None = Field(description="why a raw field stays as it is")
    applied_by: list[str] = Field(description="the flows (and steps) that apply it")


class PrivacyReport(BaseModel):
    fields: list[PiiField]


def _app(named: Mapping[str, Any]) -> str | None:
    return str(named.get("dataset") or "").partition(".")[0] or None


def _target(named: Mapping[str, Any]) -> str:
    return f"{named.get('dataset') or '*'}.{named.get('field') or '*'}"


class FieldFound(BaseModel):
    field: str
    declared: bool = Field(description="whether the dataset's pii: declares the field")
    values: int = Field(description="sampled text values of the field")
    hit_rate: float = Field(description="share of them with a finding")
    best_score: float
    detectors: dict[str, float] = Field(description="detector -> its best score")


class PrivacyScan(BaseModel):
    dataset: str
    sampled: int
    fields: list[FieldFound] = Field(description="the fields with a finding")
    suggested_pii: str = Field(description="a pii: block for the undeclared fields ('' none)")


MAX_SAMPLE = 100_000


class PrivacyApi:
    def __init__(
        self,
        report: Callable[[], list[PiiField]],
        detokenize: Callable[[Sequence[str], str], dict[str, str | None]],
        guard: Guard,
        scan: Callable[[str, int], PrivacyScan] | None = None,
    ) -> None:
        self.report, self.detokenize, self.guard, self.scan = report, detokenize, guard, scan

    def routes(self) -> list[Route]:
        return [
            self.guard.route("/api/v1/privacy/report", self._report),
            self.guard.route(
                "/api/v1/privacy/scan/{dataset}", self._scan, role="operator", app=_app
            ),
            self.guard.change(
                "/api/v1/privacy/detokenize",
                self._detokenize,
                "detokenize",
                app=_app,
                target=_target,
            ),
        ]

    def _report(self, call: Call) -> dict[str, Any]:
        return {"fields": [f.model_dump() for f in self.report()]}

    def _scan(self, call: Call) -> dict[str, Any]:
        if self.scan is None:
            raise Problem("scans need a platform that follows a repository", 409)
        sample = call.number("sample", 1000, 1, MAX_SAMPLE)
        return self.scan(call.params["dataset"], sample).model_dump()

    def _detokenize(self, call: Call) -> Answer:
        body = call.parsed(DetokenizeBody)
        # only tokens written to this dataset's field: the caller's role is for its app
        values = self.detokenize(body.tokens, f"dataset/{body.dataset}/{body.field}")
        opened = sum(v is not None for v in values.values())
        return Answer({"values": values}, detail={"tokens": len(body.tokens), "opened": opened})
