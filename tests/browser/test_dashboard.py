"""The dashboard in a real browser (headless Chromium) against a real platform: signing in,
an app going Healthy after a sync pressed on the page, a dead letter redriven with one
click, flow charts drawn from sampled metrics, what a viewer cannot do, and every page at
desktop and phone width (screenshots in test-artifacts/screenshots/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.dashkit import Dash, commit
from tests.dead_letters import dead_letter
from tests.hidden import bearer
from tests.waiting import wait_until

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
    sign_in(page, dash.operator, "/apps")
    expect(page.locator("article[data-app=shop] header > .badge").nth(1)).to_have_text("Healthy")
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


def test_every_page_works_at_desktop_and_phone_width(page: Page, dash: Dash) -> None:
    page.goto("/login")
    shoot(page, "login")
    sign_in(page, dash.operator, "/")
    links = page.locator("#nav a")
    paths = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert paths == ["/", "/apps", "/queues", "/flows", "/backups", "/alerts", "/logs", "/audit"]
    for path in paths:
        assert path is not None
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        shoot(page, "overview" if path == "/" else path.strip("/"))
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
