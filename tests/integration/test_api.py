"""The HTTP server: health, readiness, Prometheus metrics, status JSON and the dashboard page."""

from __future__ import annotations

import httpx
import pytest

from comind.embedded.platform import EmbeddedPlatform
from comind.platform import Platform


@pytest.fixture(scope="module")
def api(runtime: Platform) -> str:
    return runtime.url


def test_health_and_readiness(api: str) -> None:
    assert httpx.get(f"{api}/healthz").text == "ok"
    ready = httpx.get(f"{api}/readyz")
    assert (ready.status_code, ready.text) == (200, "ready")


def test_status_json_has_the_documented_keys(api: str, platform: EmbeddedPlatform) -> None:
    doc = httpx.get(f"{api}/api/v1/status").json()
    assert doc["engines"]["postgres"]["state"] == "healthy"
    assert doc["api_url"].startswith("http://127.0.0.1:")
    assert doc["engines"]["postgres"]["address"] == platform.postgres.address
    assert doc["engines"]["redis"]["pid"] == platform.redis.pid
    assert platform.postgres.password not in str(doc)
    assert platform.redis.password not in str(doc)


def test_metrics_are_prometheus_text_with_comind_names(api: str) -> None:
    httpx.get(f"{api}/healthz")
    resp = httpx.get(f"{api}/metrics")
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


def test_unknown_route_is_404_under_one_label(api: str) -> None:
    assert httpx.get(f"{api}/nope/123").status_code == 404
    assert 'route="unmatched"' in httpx.get(f"{api}/metrics").text
