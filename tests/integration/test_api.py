"""The HTTP server: health, readiness, Prometheus metrics, status JSON and the dashboard page.
The probes are open and say nothing; metrics and status need a token of every app."""

from __future__ import annotations

import httpx
import pytest
from tests.hidden import HiddenHeaders, bearer, builtin_headers

from comind.embedded.platform import EmbeddedPlatform
from comind.governance.access import AccessStore
from comind.platform import Platform


@pytest.fixture(scope="module")
def api(runtime: Platform) -> str:
    return runtime.url


@pytest.fixture(scope="module")
def viewer(runtime: Platform) -> HiddenHeaders:
    return builtin_headers(runtime.engines.home, "viewer")


def test_health_and_readiness(api: str) -> None:
    assert httpx.get(f"{api}/healthz").text == "ok"
    ready = httpx.get(f"{api}/readyz")
    assert (ready.status_code, ready.text) == (200, "ready")


@pytest.mark.parametrize("path", ["/metrics", "/api/v1/status"])
def test_metrics_and_status_need_a_token_of_every_app(
    api: str, runtime: Platform, path: str
) -> None:
    """They show the state path, pids, ports, versions, app and queue names: not for anyone
    who reaches the port, nor for a token limited to one app."""
    anonymous = httpx.get(f"{api}{path}")
    assert anonymous.status_code == 401
    assert "comind_" not in anonymous.text and "engines" not in anonymous.text
    assert runtime.messages is not None
    _, token = AccessStore(runtime.messages.pool).create("viewer", app="orders")
    assert httpx.get(f"{api}{path}", headers=bearer(token)).status_code == 403
    assert httpx.get(f"{api}{path}", headers=bearer("cmt_not-a-token")).status_code == 401


def test_status_json_has_the_documented_keys(
    api: str, platform: EmbeddedPlatform, viewer: HiddenHeaders
) -> None:
    doc = httpx.get(f"{api}/api/v1/status", headers=viewer).json()
    assert doc["engines"]["postgres"]["state"] == "healthy"
    assert doc["api_url"].startswith("http://127.0.0.1:")
    assert doc["engines"]["postgres"]["address"] == platform.postgres.address
    assert doc["engines"]["redis"]["pid"] == platform.redis.pid
    assert platform.postgres.password not in str(doc)
    assert platform.redis.password not in str(doc)


def test_metrics_are_prometheus_text_with_comind_names(api: str, viewer: HiddenHeaders) -> None:
    httpx.get(f"{api}/healthz")
    resp = httpx.get(f"{api}/metrics", headers=viewer)
    assert resp.headers["content-type"].startswith("text/plain")
    body = resp.text
    assert 'comind_engine_up{engine="postgres"} 1.0' in body
    assert 'comind_engine_up{engine="redis"} 1.0' in body
    assert (
        'comind_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
        in body
    )
    assert "comind_engine_restarts_total" in body


def test_the_dashboard_asks_to_sign_in_first(api: str) -> None:
    page = httpx.get(f"{api}/", follow_redirects=True)
    assert page.status_code == 200
    assert page.url.path == "/login"
    assert "<title>Sign in · test · Comind-Ops</title>" in page.text


def test_unknown_route_is_404_under_one_label(api: str, viewer: HiddenHeaders) -> None:
    assert httpx.get(f"{api}/nope/123").status_code == 404
    assert 'route="unmatched"' in httpx.get(f"{api}/metrics", headers=viewer).text
