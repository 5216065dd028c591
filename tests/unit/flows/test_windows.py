"""Event times and the windows that hold them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from comind.flows.windows import event_time, windows_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- event_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:01:30Z", at(90)),
        ("2026-01-01T00:01:30.250Z", at(90.25)),
        ("2026-01-01T00:01:30+00:00", at(90)),
        ("2026-01-01T02:01:30+02:00", at(90)),
        ("2026-01-01T00:01:30", at(90)),
        ("2026-01-01", T0),
        (T0.timestamp() + 90, at(90)),
        (int(T0.timestamp()) + 90, at(90)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_event_time_is_an_aware_instant(value: object, expected: datetime) -> None:
    t = event_time(value)
    assert t.tzinfo is not None
    assert t == expected


def test_naive_and_epoch_times_are_utc() -> None:
    assert event_time("2026-01-01T00:01:30").utcoffset() == timedelta(0)
    assert event_time(1_767_225_690).tzinfo is UTC


def test_an_offset_is_kept_but_the_instant_is_right() -> None:
    t = event_time("2026-01-01T02:00:00+02:00")
    assert t.utcoffset() == timedelta(hours=2)
    assert t.astimezone(UTC) == T0


@pytest.mark.parametrize("value", ["yesterday", "", None, True, "2026-13-01T00:00:00Z"])
def test_event_time_rejects_what_is_not_a_time(value: object) -> None:
    # True must not be read as epoch second 1
    with pytest.raises(ValueError):
        event_time(value)


# -- windows_of


def test_tumbling_gives_the_one_window_holding_t() -> None:
    assert windows_of(at(90), 60, None) == [(at(60), at(120))]


def test_tumbling_a_time_at_a_window_start_belongs_to_that_window_only() -> None:
    assert windows_of(at(60), 60, None) == [(at(60), at(120))]
    assert windows_of(at(59.999), 60, None) == [(at(0), at(60))]


def test_sliding_gives_size_over_slide_windows_oldest_first() -> None:
    assert windows_of(at(90), 60, 20) == [
        (at(40), at(100)),
        (at(60), at(120)),
        (at(80), at(140)),
    ]


def test_sliding_a_time_at_a_window_start_is_not_in_the_window_ending_there() -> None:
    spans = windows_of(at(80), 60, 20)
    assert spans == [(at(40), at(100)), (at(60), at(120)), (at(80), at(140))]
    assert (at(20), at(80)) not in spans


def test_a_slide_equal_to_the_size_is_tumbling() -> None:
    assert windows_of(at(90), 60, 60) == windows_of(at(90), 60, None)


def reference(ts: float, size: float, slide: float) -> list[tuple[datetime, datetime]]:
    """Every window [k*slide, k*slide + size) holding ts, by brute force."""
    k_low = math.floor((ts - size) / slide) - 1
    k_high = math.floor(ts / slide) + 1
    return [
        (at(k * slide), at(k * slide + size))
        for k in range(k_low, k_high + 1)
        if k * slide <= ts < k * slide + size
    ]


@pytest.mark.parametrize(("size", "slide"), [(60, 20), (60, None), (50, 20), (90, 25), (10, 3)])
def test_windows_of_matches_brute_force(size: float, slide: float | None) -> None:
    step = slide or size
    for tenths in range(0, 4000, 7):
        ts = tenths / 10
        got = windows_of(at(ts), size, slide)
        assert got == reference(ts, size, step), ts
        assert all(start <= at(ts) < end for start, end in got)
        assert len(got) in {math.floor(size / step), math.ceil(size / step)}


def test_windows_hold_an_event_with_an_offset_like_its_utc_instant() -> None:
    t = datetime(2026, 1, 1, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert windows_of(t, 60, None) == [(at(60), at(120))]
