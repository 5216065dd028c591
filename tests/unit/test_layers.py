"""The package layout of DESIGN.md holds: one metric registry, SQL in named files."""

from __future__ import annotations

from comind.observe.metrics import REGISTRY
from comind.stores.queries import package_queries


def test_every_metric_has_the_comind_prefix() -> None:
    names = [metric.name for metric in REGISTRY.collect()]
    assert names
    assert all(name.startswith("comind_") for name in names)


def test_named_queries_are_parsed() -> None:
    events = package_queries("comind.monitoring", "events")
    assert set(events) == {"record_event", "recent_events"}
    assert events["record_event"].startswith("INSERT INTO comind.platform_events")


def test_a_domain_package_loads_its_own_named_queries() -> None:
    catalog = package_queries("comind.backup", "catalog")
    assert {"start", "complete", "adopt", "list", "verified"} <= set(catalog)
    assert catalog["start"].startswith("INSERT INTO comind.backups")
