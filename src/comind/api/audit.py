"""The audit log's integrity: ``GET /api/v1/audit/verify`` (admin: the hash chain recomputed
and checked against the anchors in the backup store; the first broken entry named) and
``GET /api/v1/audit/export?after=SEQ&since=ISO&limit=N`` (admin: entries oldest first, with
their seq and hashes, a page at a time; the CLI writes them as JSON lines)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Call, Guard
from comind.governance.audit_chain import Verdict

MAX_EXPORT = 5000
ADMIN = "admin"


class Chain(Protocol):
    def verify(self) -> Verdict: ...
    def export(self, after: int, since: datetime, limit: int) -> list[dict[str, Any]]: ...


class BrokenEntry(BaseModel):
    seq: int
    id: int | None = Field(description="the entry's id, when it exists")
    problem: str = Field(description="edited, deleted, inserted or rewritten, and how")


class AuditVerdict(BaseModel):
    intact: bool
    entries: int = Field(description="entries checked")
    anchors: int = Field(description="anchors in the backup store checked")
    first_broken: BrokenEntry | None


class AuditExport(BaseModel):
    entries: list[dict[str, Any]] = Field(description="oldest first, with seq, prev_hash, hash")
    next_after: int | None = Field(description="the seq to ask after for the next page")


class AuditApi:
    def __init__(self, chain: Chain, guard: Guard) -> None:
        self.chain, self.guard = chain, guard

    def routes(self) -> list[Route]:
        return [
            self.guard.route("/api/v1/audit/verify", self._verify, role=ADMIN),
            self.guard.route("/api/v1/audit/export", self._export, role=ADMIN),
        ]

    def _verify(self, call: Call) -> dict[str, Any]:
        return self.chain.verify().doc()

    def _export(self, call: Call) -> dict[str, Any]:
        limit = call.number("limit", 1000, 1, MAX_EXPORT)
        after = call.number("after", 0, 0, 2**62)
        since = _since(call.text("since"))
        entries = [_json(e) for e in self.chain.export(after, since, limit)]
        return {"entries": entries,
                "next_after": entries[-1]["seq"] if len(entries) == limit else None}  # fmt: skip


def _since(text: str | None) -> datetime:
    if text is None:
        return datetime.fromtimestamp(0, UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(f"since: not an ISO 8601 time: {text[:40]!r}", 400) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _json(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in entry.items()}
