"""The operator's dashboard: server-rendered pages over the platform's own data.

Pages need a signed-in session (see :mod:`comind.api.session`); without one a page
redirects to ``/login``. The token that signed in decides what a page shows and allows,
exactly as through the API: its role (a viewer gets no buttons, and 403 if it posts
anyway) and its app scope: an app token gets its app's pages, never views of the whole
platform (flows, backups, alerts, the environment's errors). A form is read only up to 64 KiB
(else 413, before anything else happens), carries the session's CSRF token, checked first, and
every change (sync, redrive, sign-in and sign-out) is written to the audit log, accepted or
refused, also when it comes without a session. Signing out ends the session for good (see
:mod:`comind.api.session`). The pages are plain HTML; a small script refreshes them in place
and draws the flows' charts from ``/api/v1/metrics/query``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from comind.api import pages
from comind.api.errors import Problem
from comind.api.limits import read_bounded
from comind.api.queues import app_of
from comind.api.session import COOKIE, Session, Sessions, set_cookie
from comind.api.tokens import Tokens
from comind.governance.access import Principal, token_hash
from comind.observe.metrics import DASHBOARD_LOGINS

Builder = Callable[[pages.Sources, Principal, pages.Params], dict[str, Any]]
Endpoint = Callable[[Request], Awaitable[Response]]
Form = dict[str, str]
FormEndpoint = Callable[[Request, Form], Awaitable[Response]]
Run = Callable[[Session, Principal], Awaitable[dict[str, Any]]]
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True)
class Page:
    path: str
    label: str
    template: str
    build: Builder
    role: str = "viewer"
    scoped: bool = True  # an app token may open it (it shows that app's part only)

    def open_to(self, who: Principal) -> bool:
        return who.may(self.role, who.app if self.scoped else None)


PAGES = [
    Page("/", "Overview", "overview.html", pages.overview),
    Page("/apps", "Apps", "apps.html", pages.apps),
    Page("/queues", "Queues", "queues.html", pages.queues),
    # flows are declared platform-wide (a flow's source and sinks may be several apps' data),
    # backups and alerts cover the whole platform: as through the API, not for app tokens
    Page("/flows", "Flows", "flows.html", pages.flows, scoped=False),
    Page("/quality", "Quality", "quality.html", pages.quality, scoped=False),
    Page("/backups", "Backups", "backups.html", pages.backups, scoped=False),
    Page("/alerts", "Alerts", "alerts.html", pages.alerts, scoped=False),
    Page("/deployments", "Deployments", "deployments.html", pages.deployments, scoped=False),
    Page("/logs", "Logs", "logs.html", pages.logs),
    # the graph spans every app's data: not for app tokens, as through the API
    Page("/lineage", "Lineage", "lineage.html", pages.lineage, scoped=False),
    Page("/audit", "Audit", "audit.html", pages.audit, role="admin", scoped=False),
]
# scripts and styles from this site only (no inline script can run, should any text ever slip
# through escaping), no framing, forms post here only, and pages are never cached
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Action:
    """A change a form asks for: audited as ``name`` on ``target``."""

    name: str
    target: str
    app: str | None = None  # the app it changes (None: every app)
    role: str | None = None  # what it needs for ``app`` (None: any signed-in caller)
    back: str = "/"  # where the browser goes once it is done


class Dashboard:
    def __init__(self, sources: pages.Sources, tokens: Tokens, sessions: Sessions) -> None:
        self.sources, self.tokens, self.sessions = sources, tokens, sessions
        env = Environment(
            loader=PackageLoader("comind.api", "templates"), autoescape=select_autoescape()
        )
        env.filters.update(when=_when, duration=_duration)
        self.templates = Jinja2Templates(env=env)

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route(p.path, self._page(p), methods=["GET"]) for p in PAGES]
        return [
            *routes,
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", _posted(self.login), methods=["POST"]),
            Route("/logout", _posted(self.logout), methods=["POST"]),
            Route("/sync", _posted(self.sync), methods=["POST"]),
            Route("/queues/redrive", _posted(self.redrive), methods=["POST"]),
            Mount("/static", StaticFiles(packages=[("comind.api", "static")])),
        ]

    # -- pages

    def _page(self, page: Page) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            found = await self.tokens.session(request)
            if found is None:
                return _to_login(request)
            session, who = found
            if not page.open_to(who):
                return self._message(request, session, who, f"This page needs the {page.role} "
                                     "role and a token for every app.", 403)  # fmt: skip
            context = await run_in_threadpool(page.build, self.sources, who, request.query_params)
            return self._render(request, session, who, page.template, context)

        return endpoint

    def _render(self, request: Request, session: Session, who: Principal, template: str,
                context: dict[str, Any], status: int = 200) -> Response:  # fmt: skip
        nav = [(p.path, p.label) for p in PAGES if p.open_to(who)]
        common = {"who": who, "csrf": self.sessions.csrf(session), "name": self.sources.name,
                  "nav": nav, "path": request.url.path,
                  "operator": who.may("operator", who.app)}  # fmt: skip
        return self.templates.TemplateResponse(
            request, template, {**common, **context}, status, headers=HEADERS
        )

    def _message(self, request: Request, session: Session, who: Principal, text: str,
                 status: int) -> Response:  # fmt: skip
        return self._render(request, session, who, "message.html", {"message": text}, status)

    # -- sign-in and sign-out

    async def login_form(self, request: Request) -> Response:
        if await self.tokens.session(request) is not None:
            return RedirectResponse(_local(request.query_params.get("next")), 303)
        return self._login_page(request, None, 200)

    async def login(self, request: Request, form: Form) -> Response:
        session = self.sessions.read(request.cookies.get(COOKIE))
        if session is None or not self.sessions.csrf_ok(session, form.get("csrf")):
            return await self._login_refused(request, "The form expired; sign in again.", 403)
        token = form.get("token", "").strip()
        who = await self.tokens.of_token(token) if token else None
        if who is None:
            return await self._login_refused(request, "That token is not valid.", 401)
        await run_in_threadpool(self.tokens.audit, who, "login", "dashboard", "accepted")
        DASHBOARD_LOGINS.labels("accepted").inc()
        _, value = self.sessions.issue(token_hash(token))  # a new id: nothing carries over
        response = RedirectResponse(_local(form.get("next")), 303)
        set_cookie(response, value, secure=_tls(request), max_age=self.sessions.lifetime)
        return response

    async def _login_refused(self, request: Request, error: str, status: int) -> Response:
        await run_in_threadpool(self.tokens.audit, None, "login", "dashboard", "refused")
        DASHBOARD_LOGINS.labels("refused").inc()
        return self._login_page(request, error, status)

    def _login_page(self, request: Request, error: str | None, status: int) -> Response:
        """The sign-in form, under the browser's anonymous session if it has one (so a form
        open in another tab stays valid), else a new one."""
        value = request.cookies.get(COOKIE, "")
        session = self.sessions.read(value)
        if session is None or session.signed_in:
            session, value = self.sessions.issue()
        context = {"csrf": self.sessions.csrf(session), "error": error, "name": self.sources.name,
                   "next": _local(request.query_params.get("next"))}  # fmt: skip
        response = self.templates.TemplateResponse(
            request, "login.html", context, status, headers=HEADERS
        )
        set_cookie(response, value, secure=_tls(request), max_age=self.sessions.lifetime)
        return response

    async def logout(self, request: Request, form: Form) -> Response:
        async def sign_out(session: Session, who: Principal) -> dict[str, Any]:
            await run_in_threadpool(self.tokens.end_session, session)  # copies of it too
            return {}

        action = Action("logout", "dashboard", back="/login")
        response = await self._act(request, form, action, sign_out)
        if response.status_code == 303:  # an anonymous session replaces the ended one
            _, value = self.sessions.issue()
            set_cookie(response, value, secure=_tls(request), max_age=self.sessions.lifetime)
        return response

    # -- actions

    async def sync(self, request: Request, form: Form) -> Response:
        app = form.get("app") or None
        gitops = self.sources.gitops

        async def start(session: Session, who: Principal) -> dict[str, Any]:
            if gitops is None:
                raise Problem("This platform follows no GitOps source.", 404)
            sync_id = await run_in_threadpool(
                gitops.start, trigger=f"dashboard:{who.id}", apps={app} if app else None
            )
            if sync_id is None:
                raise Problem("The sync could not start; see the platform log.", 503)
            return {"sync": sync_id}

        return await self._act(request, form, Action("sync", app or "*", app, "operator"), start)

    async def redrive(self, request: Request, form: Form) -> Response:
        name = form.get("queue", "")

        async def start(session: Session, who: Principal) -> dict[str, Any]:
            return await run_in_threadpool(self.sources.queues.redrive, name)

        back = "/queues?peek=" + quote(name, safe="/")
        action = Action("redrive", name, app_of(name), "operator", back)
        return await self._act(request, form, action, start)

    async def _act(self, request: Request, form: Form, action: Action, run: Run) -> Response:
        """Check the session, its CSRF token and the action's role; run; audit (a form
        without a session too, as the API does); back to the page the form was on."""
        found = await self.tokens.session(request)
        if found is None:
            await run_in_threadpool(self.tokens.audit, None, action.name, action.target,
                                    "refused")  # fmt: skip
            return _to_login(request)
        session, who = found
        try:
            if not self.sessions.csrf_ok(session, form.get("csrf")):
                raise Problem("The form expired or came from elsewhere; reload it.", 403)
            if action.role is not None and not who.may(action.role, action.app):
                scope = f" for app {action.app}" if action.app else " for every app"
                raise Problem(f"This needs the {action.role} role{scope}.", 403)
            detail = await run(session, who)
        except Problem as exc:
            outcome = "refused" if exc.status == 403 else "failed"
            await run_in_threadpool(self.tokens.audit, who, action.name, action.target, outcome)
            return self._message(request, session, who, str(exc), exc.status)
        await run_in_threadpool(self.tokens.audit, who, action.name, action.target, "accepted",
                                detail)  # fmt: skip
        return RedirectResponse(action.back, 303)


def _posted(handler: FormEndpoint) -> Endpoint:
    """``handler`` given the request's form, or 413 before anything else when the form is
    over MAX_FORM_BYTES (a sign-in form is posted without a session: nothing else bounds it)."""

    async def endpoint(request: Request) -> Response:
        try:
            form = await _form(request)
        except Problem as exc:
            text = "The form is too large." if exc.status == 413 else str(exc)
            return PlainTextResponse(text, exc.status, headers=HEADERS)
        return await handler(request, form)

    return endpoint


async def _form(request: Request) -> Form:
    """An URL-encoded form body (the only kind the dashboard's forms send), read within
    MAX_FORM_BYTES like every body (a Problem: 413 over it, 408 when it trickles)."""
    body = await read_bounded(request, MAX_FORM_BYTES)
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _to_login(request: Request) -> Response:
    """To the sign-in page, and back here afterwards (a form's page cannot be gone back to
    by a GET: after a form, the overview)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = target if request.method == "GET" else "/"
    return RedirectResponse("/login?next=" + quote(back, safe=""), 303)


def _local(target: str | None) -> str:
    """``target`` when it is a path on this site, else the overview (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _tls(request: Request) -> bool:
    return request.url.scheme == "https"


def _when(value: datetime | str | float | None) -> str:
    """A time as UTC ``YYYY-MM-DD HH:MM:SS`` (datetimes, ISO strings and epoch seconds)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    whole = int(seconds or 0)
    hours, minutes = whole // 3600, whole % 3600 // 60
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {whole % 60}s"
