"""Alerts over the real platform metrics, delivered to a real webhook receiver that is
down at first (retried, not blocking), and listed at /api/v1/alerts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from tests.waiting import wait_until

from comind.cli.runtime import Runtime
from comind.observe.alerting import Alerting, AlertRule
from comind.observe.metrics import REGISTRY
from comind.observe.notify import WebhookNotifier
from comind.stores.postgres import PgTarget, make_pool
from comind.stores.timeseries import MetricSource, TimeSeries


class Receiver:
    """A webhook receiver answering 500 to the first ``failures`` posts."""

    def __init__(self, failures: int) -> None:
        self.failures, self.bodies, self.attempts = failures, [], 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                ok = receiver.attempts > receiver.failures
                if ok:
                    receiver.bodies.append(json.loads(body))
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    bodies: list[dict[str, Any]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_a_firing_alert_reaches_a_receiver_that_was_down(
    runtime: Runtime, pg: PgTarget, receiver: Receiver
) -> None:
    pool = make_pool(pg, max_size=2)
    notifier = WebhookNotifier([receiver.url], first_delay=0.05)
    notifier.start()
    try:
        summary = {"summary": "{{ $labels.engine }} answers"}
        expr = 'comind_engine_up{engine="postgres"} == 1'
        rule = AlertRule("PostgresUp", expr, 0, {"severity": "info"}, summary)
        alerting = Alerting([rule], MetricSource(REGISTRY, TimeSeries(pool)), notifier)
        [alert] = alerting.evaluate(datetime.now(UTC))  # evaluation does not wait for delivery
        assert alert["status"] == "firing"
        assert wait_until(lambda: len(receiver.bodies) == 1, 10)
        [body] = receiver.bodies
        assert receiver.attempts == 3  # two refusals, then delivered
        assert body["status"] == "firing" and body["alerts"][0]["labels"]["engine"] == "postgres"
        assert body["alerts"][0]["annotations"] == {"summary": "postgres answers"}
    finally:
        notifier.stop()
        pool.close()


def test_the_api_lists_the_rules_and_what_it_cannot_evaluate(runtime: Runtime) -> None:
    token = runtime.platform.home.secret("api-viewer-token")
    doc = httpx.get(f"{runtime.url}/api/v1/alerts",
                    headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    names = {r["alert"]: r for r in doc["rules"]}
    assert {"ComindEngineDown", "ComindSyncFailed"} <= set(names)
    assert all(r["supported"] for r in doc["rules"])
