"""What moves through a flow: records, and what can happen to one on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    """One record: its JSON value, the source's handle for acknowledging it, the time it
    entered the platform (epoch seconds, for end-to-end latency) and the sink a ``route``
    step chose (None: every sink)."""

    value: dict[str, Any]
    ref: Any = None
    enqueued_at: float | None = None
    route: str | None = None
    attempts: int = 0
    # the value before the PII guard protected it: what a dead letter keeps, so that a
    # replay runs the flow's steps (validate...) on what came in, not on hashes
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class Quarantined:
    """A record a step refused (invalid, failed a quality rule, arrived too late)."""

    record: Record
    step: str
    reasons: list[str]


@dataclass(frozen=True)
class Failed:
    """A record a step or sink raised on, after its retries: bound for the dead-letter queue."""

    record: Record
    step: str
    error: BaseException

    def letter(self, flow: str) -> dict[str, Any]:
        return {
            "flow": flow,
            "step": self.step,
            "error_type": type(self.error).__name__,
            "error": str(self.error)[:2000],
            "attempts": self.record.attempts,
            "record": self.record.raw if self.record.raw is not None else self.record.value,
        }


@dataclass
class StepResult:
    kept: list[Record] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    failed: list[tuple[Record, BaseException]] = field(default_factory=list)
