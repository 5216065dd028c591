"""The dashboard in a real browser (headless Chromium) against a real platform: signing in,
an app going Healthy after a sync pressed on the page, a dead letter redriven with one
click, flow charts drawn from sampled metrics, what a viewer cannot do, what an app token
does not see, every page at desktop and phone width (screenshots in
test-artifacts/screenshots/), and HTTPS with the platform's self-signed certificate: trusted
once imported as an authority (what users are told to do; Chromium refuses a certificate
that is not a CA there), and not before."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page, expect
from tests.browser.dashkit import Dash, commit
from tests.dead_letters import dead_letter
from tests.hidden import Hidden, bearer
from tests.waiting import wait_until

from comind.api.server import ApiServer
from comind.api.tls import TlsFiles, self_signed
from comind.embedded.ports import free_port
from comind.governance.access import AccessStore
from comind.sdk.keys import stats_key
from comind.stores.redis import client, default_user

pytestmark = pytest.mark.slow
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}


def sign_in(page: Page, token: str, path: str) -> None:
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def shoot(page: Page, name: str) -> None:
    """The page at desktop size and at phone width, into test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png",
                        full_page=True)  # fmt: skip
    page.set_viewport_size(DESKTOP)


def test_an_app_goes_healthy_after_a_sync_pressed_on_the_page(page: Page, dash: Dash) -> None:
    with client(default_user(dash.runtime.engines.redis)) as redis_admin:  # as the SDK counts
        redis_admin.hincrby(stats_key("shop:"), "hits", 3)
        redis_admin.hincrby(stats_key("shop:"), "misses", 1)
    sign_in(page, dash.operator, "/apps")
    expect(page.locator("article[data-app=shop] header > .badge").nth(1)).to_have_text("Healthy")
    expect(page.locator("article[data-app=shop] p.cache")).to_contain_text(
        "3 hits, 1 misses (75 % hits)"
    )
    commit(dash.repo, "shop", "books")  # auto-sync is off in this environment: nothing yet
    page.goto("/")
    page.get_by_role("button", name="Sync now").click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/apps")  # refreshes itself every few seconds while the sync runs
    health = page.locator("article[data-app=books] header > .badge").nth(1)
    expect(health).to_have_text("Healthy", timeout=45_000)
    shoot(page, "apps")


def test_a_dead_letter_is_redriven_with_one_click(page: Page, dash: Dash) -> None:
    dead_letter(dash.layer, "shop/jobs", '{"order": "o-1", "poison": true}')
    sign_in(page, dash.operator, "/queues")
    row = page.locator('tr[data-queue="shop/jobs"]')
    expect(row.locator(".dead-letters")).to_have_text("1")
    row.locator(".dead-letters a").click()
    expect(page.locator(".peek")).to_contain_text('"poison": true')
    shoot(page, "queues")
    row.get_by_role("button", name="Redrive").click()
    expect(row.locator(".dead-letters")).to_have_text("0", timeout=15_000)  # drained
    expect(row.locator("td").nth(1)).to_have_text("1")  # back in its queue
    assert dash.layer.queues.stats("shop/jobs-dlq").visible == 0


def records_out(dash: Dash) -> list[float]:
    """The sampled values of the flow's records-out counter over the last 15 minutes."""
    match = json.dumps({"flow": "relay", "outcome": "out"})
    resp = httpx.get(f"{dash.url}/api/v1/metrics/query",
                     params={"name": "comind_flow_records_total", "match": match, "range": "15m"},
                     headers=bearer(dash.viewer))  # fmt: skip
    return [value for s in resp.json()["series"] for _, value in s["points"]]


def ingest(dash: Dash, first: int, count: int) -> None:
    body = "\n".join(json.dumps({"id": i}) for i in range(first, first + count))
    sent = httpx.post(f"{dash.url}/ingest/relay", content=body, headers=bearer(dash.operator))
    assert sent.status_code == 202


def test_flow_charts_draw_points_the_platform_sampled(page: Page, dash: Dash) -> None:
    # two batches with samples between them, so the charts have an increase to show: the
    # worker moves the records and the platform samples its counters every half second
    ingest(dash, 0, 20)
    assert wait_until(lambda: len(records_out(dash)) >= 2, 40), "the flow was not sampled"
    ingest(dash, 20, 30)
    assert wait_until(lambda: records_out(dash)[-1:] == [50.0], 40), records_out(dash)
    sign_in(page, dash.viewer, "/flows")
    page.get_by_role("link", name="15m", exact=True).click()
    expect(page).to_have_url(re.compile(r"range=15m"))
    expect(page.locator('tr[data-flow="relay"] td').nth(4)).to_have_text("50")  # records out
    throughput = page.locator("figure.chart").first
    expect(throughput.locator("figcaption")).to_have_text("Throughput (records/s)")
    expect(throughput.locator("svg circle").first).to_be_attached()
    rates = [float(v or 0) for v in throughput.locator("svg circle").evaluate_all(
        "dots => dots.map(d => d.getAttribute('data-value'))")]  # fmt: skip
    assert len(rates) >= 2 and max(rates) > 0, rates
    shoot(page, "flows-15m")


def sampled(dash: Dash, name: str) -> list[float]:
    """The platform's samples of the cluster-wide gauge ``name`` (15 minutes)."""
    resp = httpx.get(f"{dash.url}/api/v1/metrics/query",
                     params={"name": name, "match": json.dumps({"database": "all"}),
                             "range": "15m"}, headers=bearer(dash.viewer))  # fmt: skip
    return [value for s in resp.json()["series"] for _, value in s["points"]]


def test_the_backups_page_charts_the_rpo_and_rto_over_time(page: Page, dash: Dash) -> None:
    # measured every 5 s, sampled every half second: two distinct measurements make a line
    assert wait_until(lambda: len(set(sampled(dash, "comind_backup_rpo_seconds"))) >= 2, 40)
    sign_in(page, dash.viewer, "/backups?range=15m")
    rpo, rto = page.locator("figure.chart").nth(0), page.locator("figure.chart").nth(1)
    expect(rpo.locator("figcaption")).to_contain_text("RPO")
    expect(rto.locator("figcaption")).to_contain_text("RTO")
    expect(rpo.locator("svg circle").first).to_be_attached()
    values = [float(v or 0) for v in rpo.locator("svg circle").evaluate_all(
        "dots => dots.map(d => d.getAttribute('data-value'))")]  # fmt: skip
    assert len(values) >= 2 and max(values) > 0, values  # nothing tested: the platform's age
    shoot(page, "backups-rpo")


def test_a_viewer_gets_no_buttons_and_a_post_is_refused(page: Page, dash: Dash) -> None:
    dead_letter(dash.layer, "shop/mail", "undeliverable")
    sign_in(page, dash.viewer, "/queues")
    row = page.locator('tr[data-queue="shop/mail"]')
    expect(row.locator(".dead-letters")).to_have_text("1")
    expect(page.get_by_role("button", name="Redrive")).to_have_count(0)
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post("/queues/redrive", form={"queue": "shop/mail", "csrf": csrf or ""})
    assert refused.status == 403
    page.goto("/")
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    expect(page.locator('#nav a[href="/audit"]')).to_have_count(0)
    assert dash.layer.queues.stats("shop/mail-dlq").visible == 1


def test_an_app_token_sees_no_error_of_the_whole_environment(page: Page, dash: Dash) -> None:
    assert dash.runtime.gitops is not None
    service = dash.runtime.gitops.service
    before = service.environment().last_error
    error = "queue/ledger/payments: apply failed"  # another app's resource
    service.remember(last_error=error)
    scoped = Hidden(AccessStore(dash.layer.pool).create("operator", app="shop")[1])
    try:
        sign_in(page, scoped, "/")
        expect(page.locator("main h1")).to_have_text("Overview")
        expect(page.locator("main")).not_to_contain_text(error)
        expect(page.get_by_role("heading", name="Firing alerts")).to_have_count(0)
        page.context.clear_cookies()
        sign_in(page, dash.operator, "/")
        expect(page.locator("main .error")).to_have_text(error)
        expect(page.get_by_role("heading", name="Firing alerts")).to_have_count(1)
    finally:
        service.remember(last_error=before)
    syncs = f"{dash.url}/api/v1/syncs"
    every = httpx.get(syncs, headers=bearer(dash.operator)).json()["syncs"]
    mine = httpx.get(syncs, headers=bearer(scoped)).json()["syncs"]
    assert any(s["message"] for s in every)
    assert [s["id"] for s in mine] == [s["id"] for s in every]
    assert not any(s["message"] for s in mine)  # messages speak of every app


def test_every_page_works_at_desktop_and_phone_width(page: Page, dash: Dash) -> None:
    page.goto("/login")
    shoot(page, "login")
    sign_in(page, dash.operator, "/")
    expect(page.locator('#nav a[href="/audit"]')).to_have_count(0)  # the audit log: admins'
    page.context.clear_cookies()
    sign_in(page, dash.admin, "/")
    links = page.locator("#nav a")
    nav = {links.nth(i).get_attribute("href"): links.nth(i).inner_text()
           for i in range(links.count())}  # fmt: skip
    assert list(nav) == [
        "/",
        "/apps",
        "/queues",
        "/flows",
        "/quality",
        "/backups",
        "/alerts",
        "/deployments",
        "/logs",
        "/lineage",
        "/audit",
    ]
    for path, label in nav.items():
        assert path is not None
        shown = page.goto(path)
        assert shown is not None and shown.status == 200, path
        expect(page.locator("main h1")).to_have_text(re.compile("^" + label))  # "Audit log"
        shoot(page, "overview" if path == "/" else path.strip("/"))
    page.goto("/deployments")  # the DORA metrics, and the sync that deployed the dashkit repo
    expect(page.locator("#dora-frequency")).to_contain_text("a day (")
    expect(page.locator("main table tbody tr").first).to_contain_text("Succeeded")
    page.goto("/logs")
    page.get_by_label("app").fill("shop")
    page.get_by_label("text").fill("listening")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("td.message").first).to_contain_text("listening on")
    page.set_viewport_size(PHONE)
    page.goto("/queues")
    expect(page.locator("#nav")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#nav")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    table_scrolls = "(() => { const s = document.querySelector('.scroll'); "
    table_scrolls += "return s.scrollWidth > s.clientWidth; })()"
    assert page.evaluate(table_scrolls)  # the table scrolls inside its box, not the page


@pytest.fixture
def https(dash: Dash, tmp_path: Path) -> Iterator[tuple[str, TlsFiles]]:
    """The dashboard's platform served over HTTPS with a certificate of its own making."""
    assert dash.runtime.server is not None
    tls = self_signed(tmp_path / "tls", "127.0.0.1")
    server = ApiServer(dash.runtime.server.server.config.app, host="127.0.0.1",
                       port=free_port("127.0.0.1"), tls=tls)  # fmt: skip
    server.start()
    yield server.url, tls
    server.stop()


def trusting(cert: Path, home: Path) -> Path:
    """A home directory whose NSS database (Chromium's on Linux) trusts ``cert`` as an
    authority, as importing it under Settings > Certificates > Authorities does."""
    certutil = shutil.which("certutil")
    assert certutil, "certutil is missing: `make tools` installs Debian's libnss3-tools"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "comind", "-i", str(cert)]):
        subprocess.run([certutil, "-d", f"sql:{nssdb}", *args], check=True, capture_output=True)
    return home


def test_chromium_trusts_the_certificate_imported_as_an_authority(
    chromium: Browser, https: tuple[str, TlsFiles], dash: Dash, tmp_path: Path
) -> None:
    url, tls = https
    home = trusting(tls.cert, tmp_path / "home")
    browser = chromium.browser_type.launch(executable_path=shutil.which("chromium"),
                                           env={**os.environ, "HOME": str(home)})  # fmt: skip
    try:
        page = browser.new_page()
        shown = page.goto(f"{url}/login")
        assert shown is not None and shown.status == 200
        page.get_by_label("API token").fill(dash.viewer)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("main h1")).to_have_text("Overview")
        [cookie] = page.context.cookies()
        assert cookie["secure"]
    finally:
        browser.close()


def test_without_the_certificate_chromium_refuses_the_site(
    page: Page, https: tuple[str, TlsFiles]
) -> None:
    url, _ = https
    with pytest.raises(Error, match=re.escape("net::ERR_CERT_AUTHORITY_INVALID")):
        page.goto(f"{url}/login")
