"""Flow functions of the analytics app."""

from __future__ import annotations

from typing import Any


def to_fact(event: dict[str, Any]) -> dict[str, Any]:
    """One order-placed event as a row of analytics.order_facts."""
    return {
        "order_id": event["id"],
        "day": str(event["created_at"])[:10],
        "country": event.get("country"),
        "total": event.get("total", 0),
    }
