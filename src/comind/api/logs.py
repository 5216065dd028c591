"""``GET /api/v1/logs``: search the stored logs, oldest first (what ``comind logs`` shows).

Query: ``app`` (an app's output; default the platform's own log), ``since`` (a duration
back from now: ``10m``, ``2h``; default ``1h``) or ``after`` (an ISO timestamp: lines
strictly newer, which is how ``comind logs -f`` follows), ``level`` (at least this level),
``grep`` (lines containing this text), ``limit`` (1..10000, default 200: the newest that
many). A viewer token reads them; a token limited to an app reads that app's log only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Call, Guard
from comind.monitoring.logstore import LEVELS, LogLine, LogStore
from comind.spec.model import parse_duration

MAX_LINES = 10_000


class LogsApi:
    def __init__(self, store: LogStore, guard: Guard) -> None:
        self.store, self.guard = store, guard

    def routes(self) -> list[Route]:
        return [self.guard.route("/api/v1/logs", self.search, app=lambda p: p.get("app"))]

    def search(self, call: Call) -> dict[str, Any]:
        app, level = call.text("app"), call.text("level")
        if level is not None and level not in LEVELS:
            raise Problem(f"level must be one of {', '.join(LEVELS)}", 400)
        found = self.store.search(
            source=f"app:{app}" if app else "platform",
            min_level=level,
            text=call.text("grep"),
            since=_start(call),
            limit=call.number("limit", 200, 1, MAX_LINES),
        )
        return {"lines": [_line(x) for x in reversed(found)]}


def _start(call: Call) -> datetime:
    after = call.text("after")
    if after is not None:
        try:
            return datetime.fromisoformat(after) + timedelta(microseconds=1)
        except ValueError:
            raise Problem(f"after {after}: expected an ISO timestamp", 400) from None
    since = call.text("since") or "1h"
    try:
        return datetime.now(UTC) - timedelta(seconds=int(parse_duration(since)))
    except (ValueError, TypeError):
        raise Problem(f"since {since}: expected a duration like 10m, 2h or 1d", 400) from None


def _line(x: LogLine) -> dict[str, Any]:
    return {"ts": x.ts.isoformat(), "source": x.source, "level": x.level, "message": x.message,
            "fields": x.fields}  # fmt: skip
