"""The built-in time series: samples written, queried with label matching, downsampled to
1-minute and 1-hour averages as they age, expired after 90 days, bounded answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from comind.monitoring.timeseries import HOUR, MINUTE, TimeSeries
from comind.observe.sampling import Sample, snapshot
from comind.platform import Platform
from comind.platform.upkeep import sample
from comind.stores.postgres import PgTarget, make_pool

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def series(pg: PgTarget) -> Iterator[TimeSeries]:
    pool = make_pool(pg, max_size=2)
    yield TimeSeries(pool)
    pool.close()


def depth(queue: str, value: float) -> Sample:
    return Sample("comind_queue_messages", {"queue": queue, "state": "visible"}, value)


def resolutions(series: TimeSeries) -> dict[int, int]:
    with series.pool.connection() as conn:
        rows = conn.execute("SELECT resolution, count(*) FROM comind.metric_points GROUP BY 1")
        return dict(rows.fetchall())


def test_samples_are_queried_by_name_and_labels(series: TimeSeries) -> None:
    for i in range(6):
        at = T0 + timedelta(seconds=10 * i)
        series.write([depth("a/jobs", i), depth("b/jobs", 100 + i)], at)
    got = series.query("comind_queue_messages", {"queue": "a/jobs"}, T0, T0 + timedelta(minutes=1),
                       now=T0 + timedelta(minutes=1))  # fmt: skip
    assert [s.labels for s in got] == [{"queue": "a/jobs", "state": "visible"}]
    assert [v for _, v in got[0].points] == [0, 1, 2, 3, 4, 5]


def test_series_forgotten_by_a_database_gone_back_are_registered_again(
    series: TimeSeries,
) -> None:
    series.write([depth("a/jobs", 1)], T0)
    with series.pool.connection() as conn:  # as after a switch to a point before they existed
        conn.execute("DELETE FROM comind.metric_points")
        conn.execute("DELETE FROM comind.metric_series")
    assert series.write([depth("a/jobs", 2)], T0 + timedelta(seconds=10)) == 1
    got = series.query("comind_queue_messages", {"queue": "a/jobs"}, T0, T0 + timedelta(minutes=1),
                       now=T0 + timedelta(minutes=1))  # fmt: skip
    assert [v for _, v in got[0].points] == [2]


def test_points_age_into_coarser_resolutions_and_expire(series: TimeSeries) -> None:
    for i in range(12):  # two minutes of 10-second samples: 0..5 then 6..11
        series.write([depth("a/jobs", i)], T0 + timedelta(seconds=10 * i))
    series.compact(T0 + timedelta(hours=25))
    assert resolutions(series) == {MINUTE: 2}
    later = T0 + timedelta(hours=25)
    got = series.query("comind_queue_messages", {}, T0, T0 + timedelta(minutes=2), now=later)
    assert [v for _, v in got[0].points] == [2.5, 8.5]  # minute averages
    series.compact(T0 + timedelta(days=8))
    assert resolutions(series) == {HOUR: 1}
    series.compact(T0 + timedelta(days=91))
    assert resolutions(series) == {}


def test_a_long_range_answers_a_bounded_number_of_points(series: TimeSeries) -> None:
    for i in range(1200):
        series.write([depth("a/jobs", i)], T0 + timedelta(seconds=3 * i))
    end = T0 + timedelta(hours=1)
    [got] = series.query("comind_queue_messages", {"queue": "a/jobs"}, T0, end, now=end)
    assert 0 < len(got.points) <= 500


def test_a_snapshot_keeps_counts_and_sums_of_histograms_only() -> None:
    registry = CollectorRegistry()
    Counter("comind_things_total", "things", ["kind"], registry=registry).labels("a").inc(3)
    Histogram("comind_wait_seconds", "wait", registry=registry).observe(0.2)
    names = {s.name: s.value for s in snapshot(registry)}
    assert names == {"comind_things_total": 3.0, "comind_wait_seconds_count": 1.0,
                     "comind_wait_seconds_sum": 0.2}  # fmt: skip


def test_the_api_serves_history_to_a_viewer(runtime: Platform) -> None:
    sample(runtime)
    token = runtime.engines.home.secret("api-viewer-token")
    url = f"{runtime.url}/api/v1/metrics/query"
    params = {"name": "comind_engine_up", "match": '{"engine": "postgres"}', "range": "15m"}
    assert httpx.get(url, params=params).status_code == 401
    doc = httpx.get(url, params=params, headers={"Authorization": f"Bearer {token}"}).json()
    [found] = doc["series"]
    assert found["labels"] == {"engine": "postgres"} and found["points"][-1][1] == 1.0
    bad = httpx.get(url, params={"name": "x", "match": "[1]"},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert bad.status_code == 400
