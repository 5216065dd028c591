"""Batch partitions: names, ranges, bounds and what a schedule firing at a time runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from comind.errors import ComindError, UsageError
from comind.flows.partitions import Partitioning
from comind.flows.pgpartitions import where

HOUR, DAY, MONTH = (Partitioning(by, "created_at") for by in ("hour", "day", "month"))
HASH = Partitioning("hash", "customer_id", 8)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# -- parse


@pytest.mark.parametrize(
    ("p", "given", "name"),
    [
        (DAY, "2026-11-26", "2026-11-26"),
        (DAY, "2026-2-3", "2026-02-03"),
        (HOUR, "2026-11-26T07", "2026-11-26T07"),
        (HOUR, "2026-11-26T7", "2026-11-26T07"),
        (MONTH, "2026-11", "2026-11"),
        (MONTH, "2026-1", "2026-01"),
        (HASH, "0", "0"),
        (HASH, "7", "7"),
        (HASH, "007", "7"),
    ],
)
def test_parse_checks_and_normalizes(p: Partitioning, given: str, name: str) -> None:
    assert p.parse(given) == name


@pytest.mark.parametrize(
    ("p", "given", "message"),
    [
        (DAY, "2026-02-30", "partition '2026-02-30': expected day as %Y-%m-%d"),
        (DAY, "2026-11", "partition '2026-11': expected day as %Y-%m-%d"),
        (DAY, "2026-11-26T01", "expected day as %Y-%m-%d"),
        (HOUR, "2026-11-26T24", "expected hour as %Y-%m-%dT%H"),
        (MONTH, "2026-13", "expected month as %Y-%m"),
        (HASH, "8", r"partition '8': expected a bucket 0\.\.7"),
        (HASH, "-1", r"expected a bucket 0\.\.7"),
        (HASH, "x", r"expected a bucket 0\.\.7"),
        (HASH, "", r"expected a bucket 0\.\.7"),
    ],
)
def test_parse_rejects_bad_names(p: Partitioning, given: str, message: str) -> None:
    with pytest.raises(ComindError, match=message):
        p.parse(given)


def test_parse_rejects_non_decimal_digits_as_a_comind_error() -> None:
    with pytest.raises(ComindError):
        HASH.parse("²")


# -- bounds


@pytest.mark.parametrize(
    ("p", "name", "low", "high"),
    [
        (HOUR, "2026-11-26T23", utc(2026, 11, 26, 23), utc(2026, 11, 27, 0)),
        (DAY, "2026-12-31", utc(2026, 12, 31), utc(2027, 1, 1)),
        (DAY, "2028-02-28", utc(2028, 2, 28), utc(2028, 2, 29)),
        (MONTH, "2026-01", utc(2026, 1, 1), utc(2026, 2, 1)),
        (MONTH, "2026-02", utc(2026, 2, 1), utc(2026, 3, 1)),
        (MONTH, "2028-02", utc(2028, 2, 1), utc(2028, 3, 1)),
        (MONTH, "2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
    ],
)
def test_bounds_are_half_open_utc_ranges(
    p: Partitioning, name: str, low: datetime, high: datetime
) -> None:
    assert p.bounds(name) == (low, high)
    assert p.bounds(name)[0].tzinfo is UTC


def test_every_month_bound_is_the_first_of_the_next_month() -> None:
    for year in (2026, 2028):
        for month in range(1, 13):
            low, high = MONTH.bounds(f"{year}-{month:02d}")
            assert high.day == 1
            assert (high.year, high.month) == ((year, month + 1) if month < 12 else (year + 1, 1))
            assert low < high


# -- between


def test_between_months_rolls_over_december() -> None:
    assert MONTH.between("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_between_days_crosses_month_ends_and_leap_days() -> None:
    assert DAY.between("2026-02-27", "2026-03-01") == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert DAY.between("2028-02-28", "2028-03-01") == ["2028-02-28", "2028-02-29", "2028-03-01"]
    assert len(DAY.between("2026-01-01", "2026-12-31")) == 365
    with pytest.raises(UsageError, match="spans more than 1000 partitions"):
        DAY.between("2000-01-01", "2009-12-31")


def test_between_hours_crosses_midnight() -> None:
    assert HOUR.between("2026-12-31T22", "2027-01-01T01") == [
        "2026-12-31T22",
        "2026-12-31T23",
        "2027-01-01T00",
        "2027-01-01T01",
    ]


def test_between_includes_both_ends_and_normalizes_them() -> None:
    assert DAY.between("2026-11-26", "2026-11-26") == ["2026-11-26"]
    assert DAY.between("2026-11-9", "2026-11-10") == ["2026-11-09", "2026-11-10"]


def test_between_backwards_is_empty() -> None:
    assert DAY.between("2026-11-27", "2026-11-26") == []


def test_between_rejects_a_bad_end() -> None:
    with pytest.raises(ComindError, match="partition 'soon'"):
        DAY.between("2026-11-26", "soon")


def test_between_for_hash_is_every_bucket() -> None:
    assert HASH.between("3", "5") == [str(b) for b in range(8)]


# -- completed_before


@pytest.mark.parametrize(
    ("p", "fired", "runs"),
    [
        (DAY, utc(2026, 11, 27, 1), "2026-11-26"),
        (DAY, utc(2026, 11, 27, 0), "2026-11-26"),
        (DAY, utc(2026, 11, 27, 23, 59, 59), "2026-11-26"),
        (DAY, utc(2027, 1, 1, 1), "2026-12-31"),
        (DAY, utc(2028, 3, 1, 1), "2028-02-29"),
        (HOUR, utc(2026, 11, 27, 1), "2026-11-27T00"),
        (HOUR, utc(2026, 11, 27, 1, 30), "2026-11-27T00"),
        (HOUR, utc(2026, 11, 27, 0, 5), "2026-11-26T23"),
        (MONTH, utc(2026, 11, 27, 1), "2026-10"),
        (MONTH, utc(2027, 1, 1), "2026-12"),
    ],
)
def test_completed_before_is_the_last_whole_partition(
    p: Partitioning, fired: datetime, runs: str
) -> None:
    assert p.completed_before(fired) == runs


def test_completed_before_works_in_utc_whatever_the_offset() -> None:
    # 01:00 at UTC+02:00 is 23:00 UTC the day before
    fired = datetime(2026, 11, 27, 1, tzinfo=timezone(timedelta(hours=2)))
    assert DAY.completed_before(fired) == "2026-11-25"


# -- values and where


def test_values_for_time_partitions() -> None:
    assert DAY.values("2026-11-26") == {
        "partition": "2026-11-26",
        "created_at": "2026-11-26",
        "date": "2026-11-26",
    }
    assert HOUR.values("2026-11-26T07")["date"] == "2026-11-26"
    assert MONTH.values("2026-11")["date"] == "2026-11-01"


def test_values_for_hash_partitions_have_no_date() -> None:
    assert HASH.values("3") == {"partition": "3", "customer_id": "3"}


def test_where_binds_the_partition_bounds() -> None:
    _, params = where(DAY, "2026-12-31")
    assert params == {"low": utc(2026, 12, 31), "high": utc(2027, 1, 1)}
    _, params = where(HASH, "3")
    assert params == {"buckets": 8, "bucket": 3}
