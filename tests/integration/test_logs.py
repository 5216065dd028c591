"""Logs: shipped from the platform's JSON log and app output files into day partitions,
searched by source, level and text, neither lost nor repeated across restarts and
rotation, expired by dropping whole days."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comind.monitoring.logship import LogShipper
from comind.monitoring.logstore import LogStore
from comind.stores.postgres import PgTarget, make_pool

NOW = datetime.now(UTC)


@pytest.fixture
def store(pg: PgTarget) -> Iterator[LogStore]:
    pool = make_pool(pg, max_size=2)
    logs = LogStore(pool)
    logs.prepare(NOW.date())
    yield logs
    pool.close()


def platform_line(level: str, message: str, at: datetime = NOW) -> str:
    return json.dumps({"time": at.isoformat(), "level": level, "logger": "comind.x",
                       "message": message}) + "\n"  # fmt: skip


def test_lines_are_shipped_once_and_searchable(store: LogStore, tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "comind.jsonl").write_text(
        platform_line("info", "engine postgres healthy") + platform_line("warning", "slow sync")
    )
    app_log = tmp_path / "apps" / "orders.log"
    at = NOW.isoformat()
    app_log.write_text(f"{at} [comind] revision r1 started\n{at} GET /orders 200\n{at} half-wri")
    assert LogShipper(store, tmp_path).step() == 4  # the unfinished last line waits
    assert LogShipper(store, tmp_path).step() == 0  # a restart does not ship them again
    since = NOW - timedelta(minutes=1)
    warnings = store.search(source="platform", min_level="warning", since=since)
    assert [x.message for x in warnings] == ["slow sync"]
    assert warnings[0].fields == {"logger": "comind.x"}
    orders = store.search(source="app:orders", since=since)
    assert {x.message for x in orders} == {"revision r1 started", "GET /orders 200"}
    assert [x.message for x in store.search(source="app:orders", text="get /ORD", since=since)] \
        == ["GET /orders 200"]  # fmt: skip


def test_a_rotated_file_is_read_from_its_start(store: LogStore, tmp_path: Path) -> None:
    log = tmp_path / "comind.jsonl"
    log.write_text(platform_line("info", "first") + platform_line("info", "second"))
    shipper = LogShipper(store, tmp_path)
    assert shipper.step() == 2
    log.rename(tmp_path / "comind.jsonl.1")
    log.write_text(platform_line("error", "after rotation"))
    assert shipper.step() == 1
    [line] = store.search(min_level="error", since=NOW - timedelta(minutes=1))
    assert line.message == "after rotation"


def test_old_days_are_dropped_whole(store: LogStore, tmp_path: Path) -> None:
    old_day = NOW.date() - timedelta(days=10)
    store.prepare(old_day, ahead=0)
    log = tmp_path / "comind.jsonl"
    old = datetime(old_day.year, old_day.month, old_day.day, 12, tzinfo=UTC)
    log.write_text(platform_line("info", "ancient", at=old) + platform_line("info", "recent"))
    LogShipper(store, tmp_path).step()
    dropped = store.expire(NOW.date(), keep_days=7)
    assert dropped == [f"logs_{old_day:%Y%m%d}"]
    assert [x.message for x in store.search(since=old - timedelta(days=1))] == ["recent"]
