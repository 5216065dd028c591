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


def order_day(order: dict[str, Any]) -> dict[str, Any]:
    """The order with the day it was placed (the customer-orders flow groups by it)."""
    return {**order, "day": str(order["created_at"])[:10]}


# Column lineage of these functions (read by the platform, never imported): "out": "in" copies a
# field under a new name, "out": [in, ...] computes it from those.
LINEAGE = {
    "to_fact": {"order_id": "id", "day": ["created_at"], "country": "country", "total": "total"},
    "order_day": {"*": "*", "day": ["created_at"]},
}
