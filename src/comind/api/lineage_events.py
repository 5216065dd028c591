"""``GET /api/v1/lineage/events``: the OpenLineage RunEvents flow runs emitted, newest
first, as stored in the platform database (viewer; optionally of one flow and/or one run).

Each event is returned exactly as it was emitted (the OpenLineage JSON), so a client may
hand it to any OpenLineage consumer.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Call, Guard
from comind.governance.lineage_event_store import LineageEventStore

MAX_LIMIT = 1000


class RunEventDoc(BaseModel):
    """One OpenLineage RunEvent (every facet as emitted; see the OpenLineage spec)."""

    model_config = ConfigDict(extra="allow")
    eventType: str = Field(description="START, RUNNING, COMPLETE, FAIL or ABORT")
    eventTime: str = Field(description="ISO 8601")
    run: dict[str, Any] = Field(description="runId (a UUID) and the run's facets")
    job: dict[str, Any] = Field(description="namespace, name (the flow) and the job's facets")
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []


class LineageEvents(BaseModel):
    events: list[RunEventDoc] = Field(description="newest first")


class LineageEventsApi:
    def __init__(self, store: LineageEventStore, guard: Guard) -> None:
        self.store, self.guard = store, guard

    def routes(self) -> list[Route]:
        return [self.guard.route("/api/v1/lineage/events", self.events)]

    def events(self, call: Call) -> dict[str, Any]:
        run = call.text("run")
        if run is not None:
            try:
                run = str(uuid.UUID(run))
            except ValueError:
                raise Problem("run must be a run id (a UUID)", 400) from None
        limit = call.number("limit", 100, 1, MAX_LIMIT)
        rows = self.store.recent(job=call.text("flow"), run=run, limit=limit)
        return {"events": [row["payload"] for row in rows]}
