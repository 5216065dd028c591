"""What every provider offers the reconciler, and the status words (as in Argo CD)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from comind.errors import ComindError
from comind.gitops.resources import Resource


class Sync(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class Health(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Observed:
    """A resource as it is live: ``drift`` lists how it differs from its desired spec."""

    exists: bool
    drift: tuple[str, ...] = ()
    health: Health = Health.HEALTHY
    message: str = ""
    holds_data: bool = False

    @property
    def sync(self) -> Sync:
        if self.health == Health.UNKNOWN and not self.exists:
            return Sync.UNKNOWN  # the provider could not look
        return Sync.SYNCED if self.exists and not self.drift else Sync.OUT_OF_SYNC


MISSING = Observed(False, ("does not exist",), Health.MISSING, "does not exist")


class Kept(ComindError):
    """A removal the provider declined at the last moment (the resource holds data now)."""


class Provider(Protocol):
    def observe(self, res: Resource) -> Observed: ...

    def apply(self, res: Resource) -> None:
        """Create ``res`` or change it to match its spec (idempotent)."""

    def delete(self, res: Resource) -> None: ...
