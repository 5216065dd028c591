"""The four DORA metrics from deployment records: frequency over the window, median lead
time, the share of failed or degraded deployments, median time from a failure to the next
healthy deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from comind.cicd.deployments import dora

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def deployment(hour: int, outcome: str = "Succeeded", *, lead_minutes: int = 30,
               healthy: bool = True, degraded: bool = False) -> dict[str, Any]:  # fmt: skip
    done = T0 + timedelta(hours=hour)
    return {"outcome": outcome, "finished_at": done,
            "committed_at": done - timedelta(minutes=lead_minutes),
            "healthy_at": done + timedelta(minutes=1) if healthy else None,
            "degraded_at": done + timedelta(minutes=1) if degraded else None}  # fmt: skip


def test_dora_of_a_month_with_two_failures() -> None:
    rows = [
        deployment(0, lead_minutes=10),
        deployment(1, "Failed", healthy=False),  # restored by the next healthy one, 2 h later
        deployment(3, lead_minutes=50),
        deployment(5, healthy=False, degraded=True),  # went degraded: a failed change
        deployment(6, lead_minutes=30),  # healthy 1 h 1 min after the degraded one finished
    ]
    found = dora("prod", 30, rows)
    assert (found.deployments, found.per_day) == (4, round(4 / 30, 3))
    assert found.lead_time_seconds == 30 * 60  # median of 10, 50, 30 and 30 minutes
    assert found.change_failure_rate == 0.4
    assert found.time_to_restore_seconds == (7260 + 3660) / 2  # 2 h 1 min and 1 h 1 min


def test_nothing_deployed_is_no_number() -> None:
    found = dora("dev", 7, [])
    assert (found.deployments, found.lead_time_seconds, found.change_failure_rate,
            found.time_to_restore_seconds) == (0, None, None, None)  # fmt: skip
