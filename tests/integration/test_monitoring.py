"""`up --with-prometheus`: a real Prometheus scrapes the platform with the generated rules
and a real Alertmanager delivers what fires to the platform's webhooks (the embedded
evaluator then leaves delivery to it: one notification, not two)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.waiting import wait_until
from tests.webhooks import Receiver

from comind.embedded.engine import Engine
from comind.embedded.settings import Settings
from comind.platform import Platform
from comind.spec import Spec

pytestmark = pytest.mark.slow
ALERT = {"name": "PrometheusSeesPostgres", "expr": 'comind_engine_up{engine="postgres"} == 1',
         "severity": "info", "annotations": {"summary": "postgres is up"}}  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(failures=0) as r:
        yield r


def _engine(run: Platform, name: str) -> Engine:
    return next(e for e in run.engines.engines if e.name == name)


def _get(engine: Engine, path: str) -> Any:
    return httpx.get(f"http://{engine.info().address}{path}", timeout=5).json()["data"]


def test_prometheus_scrapes_the_platform_and_alertmanager_delivers(
    engine_root: Path, receiver: Receiver
) -> None:
    spec = Spec.model_validate({"platform": {"name": "watched"}, "alerts": [ALERT]})
    settings = Settings(home=engine_root / "monitored", api_port=0, check_interval=0.5,
                        with_prometheus=True, alert_webhooks=receiver.url,
                        wal_archive=False)  # fmt: skip
    run = Platform(settings, about={"platform": "watched"}, spec=spec)
    run.start()
    try:
        states = run.engines.status().engines
        assert states["prometheus"].state == states["alertmanager"].state == "healthy"
        prometheus = _engine(run, "prometheus")

        def scraped() -> bool:
            targets = _get(prometheus, "/api/v1/targets")["activeTargets"]
            return bool(targets) and targets[0]["health"] == "up"

        assert wait_until(scraped, timeout=30, interval=0.5), "Prometheus never scraped /metrics"
        groups = {g["name"] for g in _get(prometheus, "/api/v1/rules")["groups"]}
        assert groups == {"comind-builtin", "watched-spec"}

        def delivered() -> list[dict[str, Any]]:
            return [a for body in receiver.bodies for a in body["alerts"]
                    if a["labels"]["alertname"] == ALERT["name"]]  # fmt: skip

        assert wait_until(lambda: bool(delivered()), timeout=60, interval=0.5)
        manager = _engine(run, "alertmanager").info().address
        assert all(manager in body["externalURL"] for body in receiver.bodies)  # not ours
        assert delivered()[0]["annotations"] == {"summary": "postgres is up"}
    finally:
        run.stop()
    assert not _engine(run, "prometheus").alive()
