"""The dashboard over HTTP, without a browser: sign-in and its cookie, sign-out and ending
every session, redirects without a session, CSRF checks, the form size limit, roles and app
scope on pages and forms, the audit of every change (refused ones without a session too)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.dead_letters import dead_letter, queue_with_dlq
from tests.hidden import Hidden, bearer
from tests.waiting import wait_until
from typer.testing import CliRunner

from comind.api.server import ApiServer
from comind.api.tls import client_context, self_signed
from comind.cli.access import token_cli
from comind.cli.connect import Globals
from comind.embedded.ports import free_port
from comind.governance.access import AccessStore
from comind.observe.metrics import REGISTRY
from comind.platform import Platform
from comind.queue.layer import MessageLayer

PAGES = ["/", "/apps", "/queues", "/flows", "/quality", "/backups", "/alerts", "/logs", "/audit"]
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@pytest.fixture
def browser(runtime: Platform) -> Iterator[httpx.Client]:
    """A client with its own cookie jar, as one browser."""
    with httpx.Client(base_url=runtime.url, follow_redirects=False) as client:
        yield client


def builtin(runtime: Platform, role: str) -> Hidden:
    return Hidden(runtime.engines.home.secret(f"api-{role}-token"))


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found[1]


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/login")
    return client.post("/login", data={"token": token, "csrf": csrf_of(form), "next": "/queues"})


def signed_in(client: httpx.Client, token: str) -> str:
    """Sign in; the CSRF token of the new session."""
    assert sign_in(client, token).status_code == 303
    return csrf_of(client.get("/"))


def logins(outcome: str) -> float:
    return REGISTRY.get_sample_value("comind_dashboard_logins_total", {"outcome": outcome}) or 0.0


def audited(layer: MessageLayer, target: str) -> list[tuple[str, str]]:
    return [(r[3], r[5]) for r in AccessStore(layer.pool).recent_audit(200) if r[4] == target]


def actors(layer: MessageLayer, target: str) -> list[tuple[str, str, str]]:
    """(actor, action, outcome) of the audit entries on ``target``, newest first."""
    rows = AccessStore(layer.pool).recent_audit(200)
    return [(r[2], r[3], r[5]) for r in rows if r[4] == target]


def test_without_a_session_pages_redirect_to_sign_in(browser: httpx.Client) -> None:
    for path in PAGES:
        resp = browser.get(path, params={"x": "1"})
        assert resp.status_code == 303
        assert resp.headers["location"] == "/login?next=" + path.replace("/", "%2F") + "%3Fx%3D1"
    form = browser.post("/queues/redrive", data={"queue": "a/b"})
    assert (form.status_code, form.headers["location"]) == (303, "/login?next=%2F")
    assert browser.get("/api/v1/queues").status_code == 401  # the API answers, never redirects


def test_changes_posted_without_a_session_are_audited(
    layer: MessageLayer, browser: httpx.Client
) -> None:
    app = f"d{uuid.uuid4().hex[:8]}"
    assert browser.post("/queues/redrive", data={"queue": f"{app}/jobs"}).status_code == 303
    assert browser.post("/sync", data={"app": app}).status_code == 303
    assert actors(layer, f"{app}/jobs") == [("anonymous", "redrive", "refused")]
    assert actors(layer, app) == [("anonymous", "sync", "refused")]


def test_signing_in_sets_a_strict_http_only_cookie(
    runtime: Platform, browser: httpx.Client
) -> None:
    token = builtin(runtime, "viewer")
    before = logins("accepted")
    resp = sign_in(browser, token)
    assert (resp.status_code, resp.headers["location"]) == (303, "/queues")
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("comind_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would be dropped
    page = browser.get("/queues")
    leaked = token in cookie or token in page.text
    assert page.status_code == 200 and not leaked
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert logins("accepted") == before + 1


def test_a_session_reads_the_api_but_never_changes_it(
    runtime: Platform, layer: MessageLayer, browser: httpx.Client
) -> None:
    jobs = f"d{uuid.uuid4().hex[:8]}/jobs"
    dlq = queue_with_dlq(layer, jobs)
    dead_letter(layer, jobs, "poison")
    signed_in(browser, builtin(runtime, "admin"))
    assert browser.get("/api/v1/queues").status_code == 200  # the charts' queries work so
    assert browser.post(f"/api/v1/queues/{jobs}/redrive").status_code == 401  # only Bearer
    assert layer.queues.stats(dlq).visible == 1


def test_a_wrong_token_or_a_missing_csrf_token_signs_nobody_in(
    runtime: Platform, layer: MessageLayer, browser: httpx.Client
) -> None:
    before = logins("refused")
    wrong = sign_in(browser, "cmt_nope_" + "x" * 32)
    echoed = "cmt_nope_" in wrong.text
    assert wrong.status_code == 401 and "not valid" in wrong.text and not echoed
    token = builtin(runtime, "admin")
    forged = browser.post("/login", data={"token": token})  # a form from another site
    assert forged.status_code == 403
    assert browser.get("/").status_code == 303
    assert logins("refused") == before + 2
    assert actors(layer, "dashboard")[:2] == [("anonymous", "login", "refused")] * 2


def test_a_form_over_64_kib_is_refused_before_it_is_read(
    runtime: Platform, browser: httpx.Client
) -> None:
    before = logins("refused")
    declared = browser.post("/login", data={"token": "x" * 70_000})
    assert (declared.status_code, declared.text) == (413, "The form is too large.")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(70):
            yield b"x" * 1024

    form = {"content-type": "application/x-www-form-urlencoded"}
    assert browser.post("/login", content=chunks(), headers=form).status_code == 413
    assert browser.post("/sync", content=chunks(), headers=form).status_code == 413
    assert logins("refused") == before  # refused before any sign-in was tried


def test_redrive_from_the_form_needs_csrf_and_an_operator(
    runtime: Platform, layer: MessageLayer, browser: httpx.Client
) -> None:
    jobs = f"d{uuid.uuid4().hex[:8]}/jobs"
    dlq = queue_with_dlq(layer, jobs)
    dead_letter(layer, jobs, "poison")
    with httpx.Client(base_url=runtime.url) as viewer:
        csrf = signed_in(viewer, builtin(runtime, "viewer"))
        page = viewer.get("/queues")
        assert f'data-queue="{jobs}"' in page.text and "Redrive</button>" not in page.text
        refused = viewer.post("/queues/redrive", data={"queue": jobs, "csrf": csrf})
        assert refused.status_code == 403
    csrf = signed_in(browser, builtin(runtime, "admin"))
    assert "Redrive</button>" in browser.get("/queues").text
    assert browser.post("/queues/redrive", data={"queue": jobs}).status_code == 403
    assert (
        browser.post("/queues/redrive", data={"queue": jobs, "csrf": "0" * 64}).status_code == 403
    )
    assert layer.queues.stats(dlq).visible == 1  # nothing moved so far
    done = browser.post("/queues/redrive", data={"queue": jobs, "csrf": csrf})
    assert (done.status_code, done.headers["location"]) == (303, f"/queues?peek={jobs}")
    assert wait_until(lambda: layer.queues.stats(jobs).visible == 1, 10)
    assert audited(layer, jobs) == [("redrive", "accepted")] + [("redrive", "refused")] * 3


def test_an_app_token_sees_only_its_app(runtime: Platform, layer: MessageLayer) -> None:
    app = f"d{uuid.uuid4().hex[:8]}"
    for name, body in ((f"{app}/jobs", "poison-mine"), (f"{app}x/jobs", "poison-theirs")):
        queue_with_dlq(layer, name)
        dead_letter(layer, name, body)
    token = Hidden(AccessStore(layer.pool).create("operator", app=app)[1])
    with httpx.Client(base_url=runtime.url) as client:
        csrf = signed_in(client, token)
        page = client.get("/queues").text
        assert f'data-queue="{app}/jobs"' in page and f"{app}x/jobs" not in page
        assert 'href="/audit"' not in client.get("/").text
        assert client.get("/audit").status_code == 403
        theirs = client.get("/queues", params={"peek": f"{app}x/jobs"})
        assert theirs.status_code == 200 and "poison" not in theirs.text
        mine = client.get("/queues", params={"peek": f"{app}/jobs"})
        assert mine.status_code == 200 and "poison-mine" in mine.text
        other = client.post("/queues/redrive", data={"queue": f"{app}x/jobs", "csrf": csrf})
        assert other.status_code == 403
        everything = client.post("/sync", data={"csrf": csrf})  # not limited to its app
        assert everything.status_code == 403
        own = client.post("/queues/redrive", data={"queue": f"{app}/jobs", "csrf": csrf})
        assert own.status_code == 303


def test_an_app_token_gets_no_view_of_the_whole_platform(
    runtime: Platform, layer: MessageLayer
) -> None:
    token = Hidden(AccessStore(layer.pool).create("operator", app="shop")[1])
    every_app = bearer(builtin(runtime, "viewer"))
    metrics = "/api/v1/metrics/query?name=comind_flow_records_total"
    answers = {"/api/v1/flows": 200, "/api/v1/flows/relay/traces": 404, metrics: 200,
               "/api/v1/backups": 200, "/api/v1/alerts": 200}  # fmt: skip
    for path, status in answers.items():
        assert httpx.get(runtime.url + path, headers=every_app).status_code == status, path
        assert httpx.get(runtime.url + path, headers=bearer(token)).status_code == 403, path
    with httpx.Client(base_url=runtime.url) as client:
        signed_in(client, token)
        nav = client.get("/").text
        for page in ("/flows", "/quality", "/backups", "/alerts"):
            assert f'href="{page}"' not in nav
            refused = client.get(page)
            assert refused.status_code == 403 and "a token for every app" in refused.text


def test_the_quality_page_lists_datasets_for_a_viewer(runtime: Platform) -> None:
    with httpx.Client(base_url=runtime.url) as client:
        signed_in(client, builtin(runtime, "viewer"))
        page = client.get("/quality", params={"dataset": "nope"})
        assert page.status_code == 200 and "<h1>Quality</h1>" in page.text
        assert 'href="/quality"' in client.get("/").text


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    runtime: Platform, browser: httpx.Client
) -> None:
    csrf = signed_in(browser, builtin(runtime, "viewer"))  # a built-in token: never revoked
    copy = Hidden(browser.cookies["comind_session"])
    with httpx.Client(base_url=runtime.url, cookies={"comind_session": copy}) as thief:
        assert thief.get("/queues").status_code == 200
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303
        assert thief.get("/queues").status_code == 303
        assert thief.get("/api/v1/queues").status_code == 401
        assert thief.post("/logout", data={"csrf": csrf}).status_code == 303  # to sign-in


def test_ending_every_session_signs_everyone_out(runtime: Platform, layer: MessageLayer) -> None:
    made = Hidden(AccessStore(layer.pool).create("viewer")[1])
    with httpx.Client(base_url=runtime.url) as admin, httpx.Client(base_url=runtime.url) as other:
        signed_in(admin, builtin(runtime, "admin"))
        signed_in(other, made)
        ended = CliRunner().invoke(token_cli, ["end-sessions"],
                                   obj=Globals(home=runtime.engines.home.root))  # fmt: skip
        assert ended.exit_code == 0, ended.output
        assert admin.get("/").status_code == 303 and other.get("/").status_code == 303
        signed_in(other, made)  # the token itself still works
        assert other.get("/").status_code == 200
    assert ("end-sessions", "accepted") in audited(layer, "dashboard")[:3]  # by the platform


def test_revoking_a_token_or_signing_out_ends_the_session(
    runtime: Platform, layer: MessageLayer, browser: httpx.Client
) -> None:
    store = AccessStore(layer.pool)
    token_id, made = store.create("viewer")
    token = Hidden(made)
    signed_in(browser, token)
    assert browser.get("/alerts").status_code == 200
    store.revoke(token_id)
    assert browser.get("/alerts").status_code == 303
    csrf = signed_in(browser, builtin(runtime, "viewer"))
    assert browser.post("/logout", data={}).status_code == 403  # a forged sign-out
    out = browser.post("/logout", data={"csrf": csrf})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert browser.get("/").status_code == 303
    assert audited(layer, "dashboard")[:3] == [
        ("logout", "accepted"),
        ("logout", "refused"),
        ("login", "accepted"),
    ]


def test_over_tls_the_cookie_is_secure(runtime: Platform, tmp_path: Path) -> None:
    assert runtime.server is not None
    tls = self_signed(tmp_path / "tls", "127.0.0.1")
    server = ApiServer(runtime.server.server.config.app, host="127.0.0.1",
                       port=free_port("127.0.0.1"), tls=tls)  # fmt: skip
    server.start()
    try:
        with httpx.Client(base_url=server.url, verify=client_context(tls.cert)) as client:
            assert server.url.startswith("https://")
            resp = sign_in(client, builtin(runtime, "viewer"))
            assert resp.status_code == 303
            assert "Secure" in resp.headers["set-cookie"]
            assert client.get("/queues").status_code == 200
    finally:
        server.stop()
