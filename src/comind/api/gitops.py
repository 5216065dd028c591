"""The GitOps REST API: apps, resources, syncs, diff, sync, rollback, and the Git webhook
(pushes trigger a sync; CI events are recorded per commit and a finished one triggers a
sync, which the ``require_ci`` gate then lets through or keeps out).

Read endpoints need the viewer token (or the admin token), writes the admin token, both
as ``Authorization: Bearer``; the tokens live in the platform's state directory. The
webhook is authenticated by its own secret (GitHub signature or GitLab token): a bad one
is 401 and triggers nothing. No response ever carries a secret value.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.limits import read_bounded
from comind.api.tokens import Tokens
from comind.cicd.ci_events import ci_run
from comind.cicd.hooks import authenticate
from comind.errors import ComindError
from comind.gitops.plane import ControlPlane
from comind.gitops.reconcile import Step
from comind.gitops.records import ResourceRecord, SyncRecord
from comind.gitops.webhooks import WebhookError, verify_and_parse
from comind.governance.access import Principal

MAX_HOOK_BYTES = 5 * 1024 * 1024

log = logging.getLogger(__name__)


class GitOpsApi:
    def __init__(
        self, plane: ControlPlane, *, tokens: Tokens, webhook_secret: str,
        followed_ref: str | None = None,
    ) -> None:  # fmt: skip
        self.plane, self.tokens, self.guard = plane, tokens, Guard(tokens)
        self.webhook_secret, self.followed_ref = webhook_secret, followed_ref

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/apps", self.apps),
            Route("/api/v1/apps/{app}", self.app),
            Route("/api/v1/resources", self.resources),
            Route("/api/v1/syncs", self.syncs),
            Route("/api/v1/syncs/{sync_id:int}", self.sync_record),
            Route("/api/v1/diff", self.diff),
            self.guard.change(
                "/api/v1/sync", self.sync, "sync", app=_app, target=lambda n: _app(n) or "*"
            ),
            self.guard.change(
                "/api/v1/rollback",
                self.rollback,
                "rollback",
                target=lambda n: str(n.get("revision") or ""),
            ),
            self.guard.change(
                "/api/v1/autosync",
                self.autosync,
                "autosync",
                target=lambda n: "on" if _enabled(n) else "off",
            ),
            Route("/api/v1/hooks/git", self.hook, methods=["POST"]),
        ]

    # --- reads ------------------------------------------------------------------------

    async def apps(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, filtered=True)
        if denied:
            return denied
        records = await run_in_threadpool(self.records, who)
        return JSONResponse({"apps": app_summaries(records)})

    def records(self, who: Principal | None) -> list[ResourceRecord]:
        """The inventory a caller may see: an app token sees its app only."""
        records = self.plane.records.resources()
        return [r for r in records if who is None or who.app is None or r.app == who.app]

    async def app(self, request: Request) -> Response:
        name = request.path_params["app"]
        _, denied = await self.tokens.check(request, "viewer", app=name)
        if denied:
            return denied
        records = await run_in_threadpool(self.plane.records.resources)
        mine = [r for r in records if r.app == name]
        if not mine:
            return JSONResponse({"error": f"no app '{name}'"}, 404)
        summary = app_summaries(mine)[0]
        return JSONResponse({**summary, "resources": [resource_out(r) for r in mine]})

    async def resources(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, filtered=True)
        if denied:
            return denied
        records = await run_in_threadpool(self.records, who)
        return JSONResponse({"resources": [resource_out(r) for r in records]})

    async def syncs(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, filtered=True)
        if denied:
            return denied
        try:
            limit = max(1, min(int(request.query_params.get("limit", "20")), 500))
        except ValueError:
            return JSONResponse({"error": "limit must be a whole number"}, 400)
        everything = who is None or who.app is None
        app = (who.app if who else None) or request.query_params.get("app")
        rows = await run_in_threadpool(self.plane.records.syncs, self.plane.service.env, limit)
        return JSONResponse({"syncs": [sync_out(s, app, message=everything) for s in rows]})

    async def sync_record(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, filtered=True)
        if denied:
            return denied
        row = await run_in_threadpool(self.plane.records.sync, request.path_params["sync_id"])
        if row is None:
            return JSONResponse({"error": "no such sync"}, 404)
        app = who.app if who else None
        return JSONResponse(sync_out(row, app, message=app is None))

    async def diff(self, request: Request) -> Response:
        _, denied = await self.tokens.check(request, "viewer", app=None)
        if denied:
            return denied
        revision = request.query_params.get("revision")
        try:
            return JSONResponse(await run_in_threadpool(self._diff, revision))
        except ComindError as exc:  # a refused or unknown revision
            return JSONResponse({"error": str(exc)}, 400)

    def _diff(self, revision: str | None) -> dict[str, Any]:
        service = self.plane.service
        rev = revision or service.source.fetch()
        steps = service.plan(service.desired(rev))
        return {"revision": rev, "changes": [step_out(s) for s in steps if s.changes],
                "unchanged": sum(1 for s in steps if not s.changes)}  # fmt: skip

    # --- writes -----------------------------------------------------------------------

    def sync(self, call: Call) -> Answer:
        app, revision = _app(call.body), call.text("revision")
        if revision is not None:
            if call.who.app is not None:
                raise Problem("a token limited to an app syncs the followed revision only; "
                              "choosing one needs a token for every app", 403)  # fmt: skip
            revision = self._followed(revision)
        return self._start(
            revision=revision, trigger=_who(call, "sync"),
            dry_run=bool(call.body.get("dry_run")), apps={app} if app else None,
        )  # fmt: skip

    def rollback(self, call: Call) -> Answer:
        wanted = call.text("revision")
        if not wanted:
            raise Problem("rollback needs a revision", 400)
        revision = self._followed(wanted)
        reason = f"rolled back to {revision}"
        self.plane.service.remember(auto_sync_paused=True, paused_reason=reason)
        return self._start(revision=revision, trigger=_who(call, "rollback"))

    def _followed(self, revision: str) -> str:
        """``revision``'s SHA when the followed ref holds it; else a 400 saying so."""
        try:
            return self.plane.service.source.followed(revision)
        except ComindError as exc:
            raise Problem(str(exc), 400) from None

    def autosync(self, call: Call) -> dict[str, Any]:
        enabled = _enabled(call.body)
        reason = "" if enabled else "paused by hand"
        self.plane.service.remember(auto_sync_paused=not enabled, paused_reason=reason)
        if enabled:
            self.plane.controller.trigger("autosync")
        return {"auto_sync_paused": not enabled}

    def _start(self, **kwargs: Any) -> Answer:
        """Run a sync in the background; answer with its id at once (202). The audit entry
        names the sync and the revision asked for."""
        sync_id, failed = self.start(**kwargs)
        if sync_id is None:
            why = f": {failed}" if failed else " (see the platform log)"
            raise Problem(f"the sync could not start{why}", 503)
        detail = {"sync": sync_id, "revision": kwargs.get("revision")}
        return Answer({"id": sync_id}, 202, detail=detail)

    def start(self, **kwargs: Any) -> tuple[int | None, str]:
        """Start a sync in a thread of its own; its id once it has begun (None: it could
        not begin, and why). Blocking: call it in a worker thread, the event loop keeps
        serving. Whatever the sync raises is logged, never left to end the thread unseen."""
        started: dict[str, int] = {}
        failed: list[str] = []
        ready = threading.Event()

        def begun(sync_id: int) -> None:
            started["id"] = sync_id
            ready.set()

        def run() -> None:
            try:
                self.plane.service.sync(on_started=begun, **kwargs)
            except Exception as exc:
                log.exception("the sync failed")
                failed.append(type(exc).__name__)
            finally:
                ready.set()

        threading.Thread(target=run, name="comind-sync", daemon=True).start()
        ready.wait(timeout=300)
        return started.get("id"), failed[0] if failed else ""

    async def hook(self, request: Request) -> Response:
        try:  # bounded before the signature can be checked: it covers the whole body
            body = await read_bounded(request, MAX_HOOK_BYTES)
        except Problem as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        try:
            push = verify_and_parse(request.headers, body, self.webhook_secret)
            run = None if push else ci_run(*authenticate(request.headers, body,
                                                         self.webhook_secret), body)  # fmt: skip
        except WebhookError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        if run is not None:
            await run_in_threadpool(self.plane.ci.record, run)
            if run.status != "running":
                self.plane.controller.trigger("ci")
            return JSONResponse({"accepted": True, "ci": {"commit": run.commit,
                                 "pipeline": run.pipeline, "status": run.status}}, 202)  # fmt: skip
        if push is None:
            return JSONResponse({"accepted": False, "reason": "neither a push nor CI"}, 200)
        if self.followed_ref is not None and not push.concerns(self.followed_ref):
            return JSONResponse({"accepted": False, "reason": f"not {self.followed_ref}"}, 200)
        self.plane.controller.trigger("webhook")
        return JSONResponse({"accepted": True, "ref": push.ref}, 202)


def _app(named: Mapping[str, Any]) -> str | None:
    """The app a sync is limited to (None: every app)."""
    return str(named["app"]) if named.get("app") else None


def _enabled(named: Mapping[str, Any]) -> bool:
    return bool(named.get("enabled", True))


def _who(call: Call, what: str) -> str:
    """What the history shows as the sync's trigger: the kind and the authenticated caller
    (the token's id), never text the caller chose; the caller's words follow, marked as such."""
    said = str(call.body.get("trigger") or "")[:80]
    return f"{what} by {call.who.id}" + (f" ({said})" if said else "")


def app_summaries(records: list[ResourceRecord]) -> list[dict[str, Any]]:
    """Per app: Synced only when every resource is; the worst health of its resources."""
    by_app: dict[str, list[ResourceRecord]] = defaultdict(list)
    for record in records:
        by_app[record.app].append(record)
    out = []
    for app, mine in sorted(by_app.items()):
        live = [r for r in mine if not r.orphaned]
        orphans = len(live) < len(mine)  # removed from Git but kept: waiting for a person
        sync = "Synced" if live and not orphans and all(r.sync == "Synced" for r in live) else (
            "OutOfSync")  # fmt: skip
        health = min((r.health for r in live), key=_HEALTH_ORDER.index, default="Unknown")
        bad = [f"{r.id}: {r.message}" for r in live if r.message and r.health != "Healthy"]
        out.append({"app": app, "sync": sync, "health": health, "resources": len(live),
                    "orphaned": [r.id for r in mine if r.orphaned],
                    "message": "; ".join(bad)[:500]})  # fmt: skip
    return out


_HEALTH_ORDER = ["Degraded", "Missing", "Unknown", "Progressing", "Healthy"]


def resource_out(r: ResourceRecord) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "app": r.app, "name": r.name, "sync": r.sync,
            "health": r.health, "message": r.message, "orphaned": r.orphaned,
            "revision": r.revision,
            "updated_at": r.updated_at.isoformat() if r.updated_at else None}  # fmt: skip


def sync_out(s: SyncRecord, app: str | None, *, message: bool = True) -> dict[str, Any]:
    """A sync with the results of ``app``'s resources (None: all); its message speaks of the
    whole environment (any app's errors), so an app token gets it empty (``message``)."""
    results = [x for x in s.results if app is None or x.get("id", "").split("/")[1:2] == [app]]
    return {"id": s.id, "env": s.env, "revision": s.revision, "trigger": s.trigger,
            "dry_run": s.dry_run, "outcome": s.outcome, "message": s.message if message else "",
            "results": results, "started_at": s.started_at.isoformat(),
            "finished_at": s.finished_at.isoformat() if s.finished_at else None}  # fmt: skip


def step_out(step: Step) -> dict[str, Any]:
    return {"id": step.resource.id, "action": step.action, "drift": list(step.observed.drift)}
