"""What each dashboard page shows, gathered from the same objects the JSON API answers from,
so a page and its API cannot disagree.

Every builder blocks on database reads (the dashboard runs it in a worker thread) and takes
the caller: an app token sees its own app's apps, queues and logs, exactly as through the
API. Views of the whole platform (flows, backups, alerts, the environment's errors and the
syncs' messages) are refused to app tokens there, so they are absent here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict

from comind.api.backups import BackupsApi
from comind.api.deployments import DeploymentsApi
from comind.api.errors import Problem
from comind.api.flows import FlowsApi
from comind.api.gitops import GitOpsApi, app_summaries, resource_out, sync_out
from comind.api.quality import Quality
from comind.api.queues import QueuesApi, app_of
from comind.api.status import StatusSource
from comind.apps.model import AppState
from comind.governance.access import AccessStore, Principal
from comind.monitoring.logstore import LEVELS, LogLine, LogStore
from comind.spec.model import parse_duration

RANGES = ("15m", "1h", "6h", "24h", "7d")
Params = Mapping[str, str]


def _not_deployed(app: str) -> AppState | None:
    return None


@dataclass(frozen=True)
class Sources:
    """Everything the dashboard reads, passed in by the platform that serves it."""

    name: str
    status: StatusSource
    queues: QueuesApi
    flows: FlowsApi
    backups: BackupsApi
    logs: LogStore
    alerts: Callable[[], list[dict[str, Any]]]
    access: AccessStore | None = None
    gitops: GitOpsApi | None = None
    app_state: Callable[[str], AppState | None] = _not_deployed
    quality: Quality | None = None
    deployments: DeploymentsApi | None = None
    cache_counts: Callable[[str], dict[str, int] | None] = lambda app: None


def overview(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    records = src.gitops.records(who) if src.gitops else []
    everything = who.app is None
    return {"engines": src.status.status().dump()["engines"],
            "environment": _environment(src, errors=everything), "apps": app_summaries(records),
            "firing": firing(src.alerts()) if everything else None,
            "syncs": _syncs(src, who)}  # fmt: skip


def _environment(src: Sources, *, errors: bool) -> dict[str, Any] | None:
    """The environment's revision and sync policy; with ``errors``, why auto-sync is paused
    and the last sync's error (which may name any app)."""
    if src.gitops is None:
        return None
    service = src.gitops.plane.service
    current, state = service.current, service.environment()
    return {"name": service.env, "revision": current.revision if current else None,
            "declared": sorted(current.spec.environments) if current else [],
            "auto_sync": service.policy().auto, "auto_sync_paused": state.auto_sync_paused,
            "paused_reason": state.paused_reason if errors else None,
            "last_error": state.last_error if errors else None}  # fmt: skip


def _syncs(src: Sources, who: Principal, limit: int = 5) -> list[dict[str, Any]]:
    if src.gitops is None:
        return []
    plane = src.gitops.plane
    rows = plane.records.syncs(plane.service.env, limit)
    return [sync_out(s, who.app, message=who.app is None) for s in rows]


def firing(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every firing element of every rule, with its rule's name."""
    return [{"alert": rule["alert"], **element} for rule in rules
            for element in rule["alerts"] if element["state"] == "firing"]  # fmt: skip


def apps(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    records = src.gitops.records(who) if src.gitops else []
    return {"gitops": src.gitops is not None, "apps": [
        {**summary, "process": src.app_state(summary["app"]),
         "cache": src.cache_counts(summary["app"]),
         "resources": [resource_out(r) for r in records if r.app == summary["app"]],
         "logs": _recent(src.logs, f"app:{summary['app']}")}
        for summary in app_summaries(records)
    ]}  # fmt: skip


def _recent(logs: LogStore, source: str) -> list[LogLine]:
    since = datetime.now(UTC) - timedelta(hours=1)
    return list(reversed(logs.search(source=source, since=since, limit=10)))


def queues(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    page: dict[str, Any] = {"queues": src.queues.overview(who.app), "peek": None}
    peek = params.get("peek")
    if peek and who.may("viewer", app_of(peek)):
        try:
            page["peek"] = src.queues.dead_letters(peek, 20)
        except Problem as exc:
            page["peek_error"] = str(exc)
    return page


def flows(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    summaries = src.flows.listing.get()  # shared with the API and other tabs
    names = [f["name"] for f in summaries]
    span = _span(params)
    page = {"flows": summaries, "flow": None, "range": span, "ranges": RANGES}
    if not names:
        return page
    chosen = params["flow"] if params.get("flow") in names else names[0]
    state = src.flows.state
    return {**page, "flow": chosen, "charts": flow_charts(chosen, span),
            "runs": state.runs(chosen, 20),
            "partitions": sorted(state.partition_states(chosen).items()),
            # PII fields masked below operator, as GET /api/v1/flows/NAME/quarantine does
            "quarantined": src.flows.quarantine(chosen, 20, who.may("operator"))}  # fmt: skip


def quality(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    """Each dataset's score; the chosen one's rules, what blocks and its check history
    (``/quality?dataset=NAME``, which the lineage page links to)."""
    datasets = src.quality.overview() if src.quality else []
    names = [d["dataset"] for d in datasets]
    if not names or src.quality is None:
        return {"datasets": datasets, "dataset": None}
    chosen = params["dataset"] if params.get("dataset") in names else names[0]
    return {"datasets": datasets, "dataset": chosen, "detail": src.quality.detail(chosen, None)}


class ChartLine(TypedDict):
    label: str
    name: str  # the metric
    match: dict[str, str]  # its labels


class Chart(TypedDict):
    """A chart as the dashboard script draws it from /api/v1/metrics/query: ``rate`` is a
    counter's increase per second, ``mean`` a histogram's average, ``value`` a gauge."""

    title: str
    kind: Literal["rate", "mean", "value"]
    range: str
    lines: list[ChartLine]


def _span(params: Params) -> str:
    """The time range a page's charts show (``?range=``; 1h unless one of RANGES)."""
    return params["range"] if params.get("range") in RANGES else "1h"


def flow_charts(flow: str, span: str) -> list[Chart]:
    """The flow's charts."""

    def line(label: str, name: str, **match: str) -> ChartLine:
        return {"label": label, "name": name, "match": {"flow": flow, **match}}

    records = "comind_flow_records_total"
    return [
        {"title": "Throughput (records/s)", "kind": "rate", "range": span,
         "lines": [line("in", records, outcome="in"), line("out", records, outcome="out")]},
        {"title": "Latency, end to end (s)", "kind": "mean", "range": span,
         "lines": [line("mean", "comind_flow_end_to_end_seconds")]},
        {"title": "Errors (records/s)", "kind": "rate", "range": span,
         "lines": [line("quarantined", records, outcome="quarantined"),
                   line("dead-lettered", records, outcome="dead_lettered")]},
        {"title": "Lag (s)", "kind": "value", "range": span,
         "lines": [line("lag", "comind_flow_lag_seconds")]},
    ]  # fmt: skip


def backups(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    """The catalog with each backup's last restore test, and the RPO and RTO over time."""
    span = _span(params)

    def chart(title: str, name: str) -> Chart:
        line: ChartLine = {"label": "cluster", "name": name, "match": {"database": "all"}}
        return {"title": title, "kind": "value", "range": span, "lines": [line]}

    return {**src.backups.document(who), "range": span, "ranges": RANGES, "charts": [
        chart("RPO: what a restore now could lose (s)", "comind_backup_rpo_seconds"),
        chart("RTO: how long a restore now would take (s)", "comind_backup_rto_seconds"),
    ]}  # fmt: skip


def alerts(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    return {"rules": src.alerts()}


def lineage(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    """The lineage graph, drawn by ``static/lineage.js`` from ``/api/v1/lineage``."""
    return {"node": params.get("node", "").strip()}


def logs(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    """A search: an app's output, a flow's workers' output, or (unscoped) everything."""
    query = {key: params.get(key, "").strip() for key in ("app", "flow", "level", "text")}
    query["since"] = params.get("since", "1h") if params.get("since") in RANGES else "1h"
    if who.app is not None:  # an app token reads its own app's output only
        query.update(app=who.app, flow="")
    since = datetime.now(UTC) - timedelta(seconds=int(parse_duration(query["since"])))
    found = src.logs.search(
        source=f"app:{query['app']}" if query["app"] else None,
        source_prefix=f"app:flow.{query['flow']}." if query["flow"] else None,
        min_level=query["level"] if query["level"] in LEVELS else None,
        text=query["text"] or None, since=since, limit=200,
    )  # fmt: skip
    return {"query": query, "lines": found, "levels": LEVELS, "ranges": RANGES}


def audit(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    rows = src.access.recent_audit(100) if src.access else []
    keys = ("id", "at", "actor", "action", "target", "outcome", "detail")
    return {"entries": [dict(zip(keys, row, strict=True)) for row in rows]}


def deployments(src: Sources, who: Principal, params: Params) -> dict[str, Any]:
    """The environment's DORA metrics and its deployments: commit → CI → sync → health."""
    if src.deployments is None:
        return {"dora": None, "deployments": []}
    days = int(params["days"]) if params.get("days", "").isdigit() else 30
    return {
        "dora": src.deployments.dora(None, max(1, min(days, 365))).model_dump(),
        "deployments": src.deployments.log(None, 50).model_dump()["deployments"],
    }
