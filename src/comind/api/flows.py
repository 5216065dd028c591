"""The flows API: ``GET /api/v1/flows``, ``/api/v1/flows/{name}``, ``/api/v1/flows/{name}/runs``,
``/api/v1/flows/{name}/traces`` (viewer token, not limited to an app: a flow is declared for
the whole platform and may move several apps' data), ``/api/v1/flows/{name}/token`` (the
ingest token: operator, audited) and the HTTP ingest endpoint ``POST /ingest/{flow}``.

Ingest takes a JSON object, a JSON array of objects or NDJSON, authenticated by the flow's
own token (``comind flow token NAME``) or an operator token. The whole body is parsed before
anything is queued: a malformed body is a 400 naming the parse error and queues nothing; a
202 means every record is stored in the flow's input queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Call, Guard
from comind.api.limits import read_bounded
from comind.api.memo import Coalesced
from comind.api.tokens import Tokens
from comind.flows.metrics import INGESTED
from comind.flows.quarantine import view
from comind.flows.sources import parse_object
from comind.flows.state import FlowState
from comind.monitoring.spans import SpanStore
from comind.queue.errors import QueueDoesNotExist
from comind.queue.model import OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.spec import Spec
from comind.spec.names import flow_dead_letter_queue, flow_input_queue, queue_name

MAX_INGEST_BYTES = 10 * 1024 * 1024
# a flow's newest quarantined records (name, limit, raw?), PII masked unless raw
Quarantine = Callable[[str, int, bool], list[dict[str, Any]]]


@dataclass(frozen=True)
class Applied:
    """The spec the platform runs, where its checkout is, and its environment overlay."""

    spec: Spec
    root: Path
    revision: str
    env: str | None


def ingest_token(key: bytes, flow: str) -> str:
    """The flow's ingest token: derived from the platform key, so it needs no storage."""
    return "cmi_" + hmac.new(key, f"ingest:{flow}".encode(), hashlib.sha256).hexdigest()[:40]


class FlowsApi:
    def __init__(
        self,
        applied: Callable[[], Applied | None],
        state: FlowState,
        queues: PostgresQueues,
        tokens: Tokens,
        *,
        key: bytes,
        worker_state: Callable[[str], str] = lambda flow: "Unknown",
        quarantine: Quarantine | None = None,
    ) -> None:
        self.applied, self.state, self.queues, self.tokens = applied, state, queues, tokens
        self.key, self.worker_state = key, worker_state
        self.quarantine = quarantine or self._masked
        self.guard = Guard(tokens)
        self.spans = SpanStore(state.pool)
        self.listing = Coalesced(self.summaries)  # dashboards poll it from many tabs

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/flows", self.flows),
            Route("/api/v1/flows/{name}", self.flow),
            Route("/api/v1/flows/{name}/runs", self.runs),
            Route("/api/v1/flows/{name}/traces", self.traces),
            self.guard.route(
                "/api/v1/flows/{name}/token",
                self.token,
                role="operator",
                action="read-secrets",
                target=lambda n: f"flow/{n['name']}",
            ),
            Route("/ingest/{flow}", self.ingest, methods=["POST"]),
        ]

    async def flows(self, request: Request) -> Response:
        if denied := await self.tokens.refuse(request):
            return denied
        return JSONResponse({"flows": await run_in_threadpool(self.listing.get)})

    async def flow(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request)
        if denied or who is None:
            return denied or JSONResponse({"error": "unauthorized"}, 401)
        name = request.path_params["name"]
        doc = await run_in_threadpool(self.detail, name, who.may("operator"))
        return JSONResponse(doc) if doc else JSONResponse({"error": f"no flow '{name}'"}, 404)

    async def runs(self, request: Request) -> Response:
        if denied := await self.tokens.refuse(request):
            return denied
        name = request.path_params["name"]
        if not self._known(name):
            return JSONResponse({"error": f"no flow '{name}'"}, 404)
        rows = await run_in_threadpool(self.state.runs, name, 200)
        return JSONResponse({"flow": name, "runs": [_jsonable(r) for r in rows]})

    async def traces(self, request: Request) -> Response:
        """The flow's most recent batch traces (``limit``, default 20, at most 200)."""
        if denied := await self.tokens.refuse(request):
            return denied
        name = request.path_params["name"]
        if not self._known(name):
            return JSONResponse({"error": f"no flow '{name}'"}, 404)
        try:
            limit = min(max(int(request.query_params.get("limit", "20")), 1), 200)
        except ValueError:
            return JSONResponse({"error": "limit must be a whole number"}, 400)
        found = await run_in_threadpool(self.spans.traces, name, limit)
        return JSONResponse({"flow": name, "traces": [_span(t) for t in found]})

    def token(self, call: Call) -> dict[str, Any]:
        """The flow's ingest token (operator; audited as a read of secrets)."""
        name = call.params["name"]
        if not self._known(name):
            raise Problem(f"no flow '{name}'", 404)
        return {"flow": name, "token": ingest_token(self.key, name)}

    # -- documents

    def summaries(self) -> list[dict[str, Any]]:
        applied = self.applied()
        if applied is None:
            return []
        stats = {s["flow"]: s for s in self.state.stats()}
        return [
            self._summary(name, applied, stats.get(name, {})) for name in sorted(applied.spec.flows)
        ]

    def detail(self, name: str, raw: bool = False) -> dict[str, Any] | None:
        """The flow's document; its quarantined records' PII raw only when ``raw``."""
        applied = self.applied()
        if applied is None or name not in applied.spec.flows:
            return None
        stats = (self.state.stats(name) or [{}])[0]
        flow = applied.spec.flows[name]
        return {
            **self._summary(name, applied, stats),
            "spec": flow.model_dump(mode="json", by_alias=True, exclude_defaults=True),
            "revision": applied.revision,
            "root": str(applied.root),
            "env": applied.env,
            "runs": [_jsonable(r) for r in self.state.runs(name, 20)],
            "quarantined": self.quarantine(name, 20, raw),
        }

    def _masked(self, name: str, limit: int, raw: bool) -> list[dict[str, Any]]:
        """Without the platform's quarantine key: as stored, PII masked, whoever asks."""
        return [view(r, dict(r["record"]), raw=False) for r in self.state.quarantined(name, limit)]

    def _summary(self, name: str, applied: Applied, stats: dict[str, Any]) -> dict[str, Any]:
        flow = applied.spec.flows[name]
        runs = self.state.runs(name, 1) if flow.kind == "batch" else []
        return {
            "name": name,
            "kind": flow.kind,
            "source": flow.source,
            "state": self.worker_state(name),
            "records_in": int(stats.get("records_in", 0)),
            "records_out": int(stats.get("records_out", 0)),
            "records_quarantined": int(stats.get("quarantined", 0)),
            "records_dead_lettered": int(stats.get("dead_lettered", 0)),
            "errors": int(stats.get("errors", 0)),
            "last_error": stats.get("last_error"),
            "last_batch_at": _iso(stats.get("last_batch_at")),
            "lag_seconds": self._lag(name, applied.spec),
            "dead_letters_waiting": self._depth(flow_dead_letter_queue(name)),
            "last_run": _jsonable(runs[0]) if runs else None,
        }

    def _lag(self, name: str, spec: Spec) -> float | None:
        source = spec.flows[name].source
        if source.startswith(("topic://", "http://")):
            return self._age(flow_input_queue(name))
        if source.startswith("queue://"):
            app, _, queue = source.removeprefix("queue://").partition("/")
            return self._age(queue_name(app, queue, spec.apps[app].queues[queue].fifo))
        return None

    def _age(self, queue: str) -> float | None:
        try:
            return round(self.queues.stats(queue).oldest_age_seconds, 3)
        except QueueDoesNotExist:
            return None

    def _depth(self, queue: str) -> int:
        try:
            stats = self.queues.stats(queue)
        except QueueDoesNotExist:
            return 0
        return stats.visible + stats.in_flight + stats.delayed

    def _known(self, name: str) -> bool:
        applied = self.applied()
        return applied is not None and name in applied.spec.flows

    # -- ingest

    async def ingest(self, request: Request) -> Response:
        flow = request.path_params["flow"]
        applied = self.applied()
        if (
            applied is None
            or flow not in applied.spec.flows
            or not applied.spec.flows[flow].source.startswith("http://")
        ):
            return JSONResponse({"error": f"no flow '{flow}' with an http:// source"}, 404)
        if denied := await self._ingest_denied(request, flow):
            return denied
        try:
            body = await read_bounded(request, MAX_INGEST_BYTES)
        except Problem as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        records, problems = _parse(body)
        if problems:
            return JSONResponse({"error": "; ".join(problems[:5]), "queued": 0}, 400)
        await run_in_threadpool(self._queue, flow, records)
        INGESTED.labels(flow).inc(len(records))
        return JSONResponse({"queued": len(records)}, 202)

    async def _ingest_denied(self, request: Request, flow: str) -> Response | None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if given and hmac.compare_digest(given.encode(), ingest_token(self.key, flow).encode()):
            return None
        return (await self.tokens.check(request, "operator"))[1]

    def _queue(self, flow: str, records: list[dict[str, Any]]) -> None:
        messages = [OutgoingMessage(json.dumps(r, separators=(",", ":"))) for r in records]
        with self.queues.pool.connection() as conn, conn.transaction():
            for i in range(0, len(messages), 10):
                self.queues.send(flow_input_queue(flow), messages[i : i + 10], conn=conn)


def _parse(body: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [f"body is not UTF-8: {exc}"]
    if not text.strip():
        return [], ["empty body: send a JSON object, a JSON array of objects or NDJSON"]
    try:
        whole = json.loads(text)
    except ValueError:
        return parse_object(text, where="body")  # NDJSON, or malformed: the reasons say where
    if isinstance(whole, dict):
        return [whole], []
    if isinstance(whole, list):
        return parse_object(text, where="body")
    return [], ["body: expected a JSON object, an array of objects or NDJSON"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _span(span: dict[str, Any]) -> dict[str, Any]:
    return {**_jsonable(span), "children": [_span(c) for c in span["children"]]}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
