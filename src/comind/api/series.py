"""``GET /api/v1/metrics/query``: history from the built-in time series, and
``GET /api/v1/alerts``: the embedded evaluator's alerts (viewer token, not limited to an
app: series and alerts carry every app's labels).

Parameters: ``name`` (a sample name, e.g. ``comind_queue_messages``), ``match`` (a JSON
object of labels the series must carry), ``range`` (``15m``, ``6h``, ``7d``, ...; default
1 h) ending now. The answer is bounded: at most 500 points per series.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.tokens import Tokens
from comind.monitoring.timeseries import TimeSeries
from comind.observe.alerting import Alerting
from comind.spec.model import parse_duration

MAX_RANGE = timedelta(days=90)


class SeriesApi:
    def __init__(
        self, series: TimeSeries, tokens: Tokens, alerting: Alerting | None = None
    ) -> None:
        self.series, self.tokens, self.alerting = series, tokens, alerting

    def routes(self) -> list[Route]:
        return [Route("/api/v1/metrics/query", self.query), Route("/api/v1/alerts", self.alerts)]

    async def alerts(self, request: Request) -> Response:
        """Every alert rule: pending and firing elements, or why it is not evaluated here."""
        if denied := await self.tokens.refuse(request):
            return denied
        return JSONResponse({"rules": self.alerting.states() if self.alerting else []})

    async def query(self, request: Request) -> Response:
        if denied := await self.tokens.refuse(request):
            return denied
        params = request.query_params
        try:
            span = timedelta(seconds=int(parse_duration(params.get("range", "1h"))))
            match = json.loads(params.get("match", "{}"))
            if not isinstance(match, dict) or not params.get("name"):
                raise ValueError("need name=METRIC and match as a JSON object of labels")
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad query: {exc}"}, 400)
        now = datetime.now(UTC)
        start = now - min(span, MAX_RANGE)
        found = await run_in_threadpool(self.series.query, params["name"],
                                        {str(k): str(v) for k, v in match.items()}, start, now,
                                        now=now)  # fmt: skip
        return JSONResponse({"name": params["name"], "series": [
            {"labels": s.labels, "points": [[t.isoformat(), v] for t, v in s.points]}
            for s in found
        ]})  # fmt: skip
