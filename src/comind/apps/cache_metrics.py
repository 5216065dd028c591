"""The apps' cache metrics: what ``comind.sdk.Cache`` counted in each app's own hash
``<app>:__comind:cache`` (hits, misses, sets, invalidations; evictions are added by the
platform, apps/cache_evictions.py), read at each scrape with the
platform's Redis login and exported as ``comind_app_cache_<what>_total{app}``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from comind.observe.metrics import REGISTRY
from comind.sdk.keys import stats_key
from comind.stores.redis import RedisClient

log = logging.getLogger(__name__)
COUNTED = {
    "hits": "Cache reads that found their value (comind.sdk.Cache).",
    "misses": "Cache reads that did not (the value was then computed).",
    "sets": "Values written to the cache.",
    "invalidations": "Cached values deleted by the app.",
    "evictions": "Cached values Redis evicted to stay under its maxmemory.",
}


class AppCacheCollector(Collector):
    def __init__(self, client: RedisClient, apps: Callable[[], list[str]]) -> None:
        self.client, self.apps = client, apps

    @staticmethod
    def families() -> dict[str, CounterMetricFamily]:
        """The (empty) families a scrape fills, one per count."""
        return {what: CounterMetricFamily(f"comind_app_cache_{what}", help_, labels=["app"])
                for what, help_ in COUNTED.items()}  # fmt: skip

    def collect(self) -> Iterator[CounterMetricFamily]:
        families = self.families()
        for app in self.apps():
            found = counts(self.client, app)
            for what, family in families.items():
                family.add_metric([app], float(found.get(what, 0)))
        yield from families.values()

    def describe(self) -> Iterator[CounterMetricFamily]:
        return iter(())


def counts(client: RedisClient, app: str) -> dict[str, int]:
    """What the app's SDK counted so far ({} when unknown: Redis restarting)."""
    try:
        found = client.hgetall(stats_key(f"{app}:"))
    except Exception as exc:  # a scrape or a page must not fail because Redis restarts
        log.debug("cache counts of %s unavailable: %s", app, exc)
        return {}
    return {what: int(found.get(what, 0)) for what in COUNTED}


def register(client: RedisClient, apps: Callable[[], list[str]]) -> AppCacheCollector:
    collector = AppCacheCollector(client, apps)
    REGISTRY.register(collector)
    return collector
