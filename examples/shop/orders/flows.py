"""Flow functions of the orders app (referenced from comind.yaml as orders.flows:score)."""

from __future__ import annotations

from typing import Any


def score(record: dict[str, Any]) -> dict[str, Any]:
    """Mark large orders for review."""
    total = float(record.get("total", 0))
    return {**record, "review": total >= 1000, "score": min(1.0, total / 5000)}
