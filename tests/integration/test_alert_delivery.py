"""Alerts over the real platform metrics, delivered to a real webhook receiver that is
down at first (retried, not blocking), and listed at /api/v1/alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.waiting import wait_until
from tests.webhooks import Receiver

from comind.monitoring.timeseries import MetricSource, TimeSeries
from comind.observe.alerting import Alerting, AlertRule
from comind.observe.metrics import REGISTRY
from comind.observe.notify import WebhookNotifier
from comind.platform import Platform
from comind.stores.postgres import PgTarget, make_pool


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(failures=2) as r:
        yield r


def test_a_firing_alert_reaches_a_receiver_that_was_down(
    runtime: Platform, pg: PgTarget, receiver: Receiver
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


def test_the_api_lists_the_rules_and_what_it_cannot_evaluate(runtime: Platform) -> None:
    token = runtime.engines.home.secret("api-viewer-token")
    doc = httpx.get(f"{runtime.url}/api/v1/alerts",
                    headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    names = {r["alert"]: r for r in doc["rules"]}
    assert {"ComindEngineDown", "ComindSyncFailed"} <= set(names)
    assert all(r["supported"] for r in doc["rules"])
