"""The spec's scalar words, parsed once at validation: durations, sizes and cron schedules.

A duration (``300``, ``90s``, ``5m``, ``1h30m``, ``4d``, ``1w``; a bare number is seconds)
becomes a :class:`~datetime.timedelta`, so no consumer ever parses ``"5m"`` again; it is
dumped as whole seconds, so stored desired state and API output keep their shape. A size
(``1048576``, ``256KiB``, ``1MiB``) becomes an ``int`` of bytes. A cron schedule is checked
by croniter itself, the library that later runs it, and must fire at least once, so a
schedule that validates is one the scheduler can follow.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from croniter import CroniterBadDateError, CroniterError, croniter
from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_DURATION = re.compile(r"^(?:\d+[wdhms])+\Z")
_PART = re.compile(r"(\d+)([wdhms])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\Z")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3,
               "KB": 1000, "MB": 1000**2, "GB": 1000**3}  # fmt: skip
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
DURATION_WORDS = "a duration like 300, 30s, 5m, 1h30m or 4d"


def duration_seconds(value: int | str) -> int:
    """``90``, ``90s``, ``5m``, ``1h30m``, ``4d``, ``1w`` -> whole seconds; ValueError else."""
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_WORDS}, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected {DURATION_WORDS}, got {value!r}")
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    if not _DURATION.match(text):
        raise ValueError(f"expected {DURATION_WORDS}, got {value!r}")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def parse_duration(value: Any) -> Any:
    """Seconds (int) for callers that take a duration from a command line or query string."""
    if isinstance(value, int | str):
        return duration_seconds(value)
    return value


def _to_timedelta(value: Any) -> Any:
    if value is None or isinstance(value, timedelta):
        return value
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise ValueError(f"expected {DURATION_WORDS}, got {_shown(value)}")
    return timedelta(seconds=duration_seconds(value))


def _shown(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) \
        else str(value).lower() if isinstance(value, bool) else repr(value)  # fmt: skip


def show_duration(value: timedelta | int) -> str:
    """A duration in the largest unit that divides it: ``900`` s -> ``15m``."""
    seconds = int(value.total_seconds()) if isinstance(value, timedelta) else value
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def whole_seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def within(low: int = 0, high: int | None = None) -> AfterValidator:
    """Bounds (in seconds) on a duration, refused in the spec's own words (``>= 1m``)."""

    def check(value: timedelta) -> timedelta:
        seconds = whole_seconds(value)
        if seconds < low:
            raise ValueError(f"must be >= {show_duration(low)}, got {show_duration(value)}")
        if high is not None and seconds > high:
            raise ValueError(f"must be <= {show_duration(high)}, got {show_duration(value)}")
        return value

    return AfterValidator(check)


def seconds(n: int) -> timedelta:
    """A default duration of ``n`` seconds."""
    return timedelta(seconds=n)


def _size(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    match = _SIZE.match(value.strip())
    if not match:
        raise ValueError(f"expected a size like 1048576, 256KiB or 1MiB, got {value!r}")
    return int(match[1]) * _SIZE_UNITS[match[2]]


def _cron(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in _CRON_MACROS:
        return text
    if len(text.split()) != 5:
        raise ValueError(
            f"expected a cron expression with 5 fields (e.g. '0 1 * * *'), got {value!r}"
        )
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {value!r} never fires") from None
    except (CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"invalid cron expression {value!r}: {_cron_reason(exc)}") from None
    return text


def _cron_reason(exc: Exception) -> str:
    text = str(exc)
    text = text.rpartition("] ")[2] if text.startswith("[") else text
    return text.removeprefix("is not acceptable, ") or "not understood"


_AS_SECONDS = PlainSerializer(whole_seconds, return_type=int)
Duration = Annotated[timedelta, BeforeValidator(_to_timedelta), _AS_SECONDS]
Size = Annotated[int, BeforeValidator(_size)]
Cron = Annotated[str, BeforeValidator(_cron)]
