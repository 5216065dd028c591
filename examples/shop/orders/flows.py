"""Flow functions of the orders app (referenced from comind.yaml as orders.flows:score)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def score(record: dict[str, Any]) -> dict[str, Any]:
    """Mark large orders for review; ``scored_at`` is when the platform saw the order (the
    order-counts window counts by it; ``created_at`` may be days old for late arrivals)."""
    total = float(record.get("total", 0))
    return {
        **record,
        "review": total >= 1000,
        "score": min(1.0, total / 5000),
        "scored_at": datetime.now(UTC).isoformat(),
    }


# Column lineage of score, read by the platform from this literal (never imported): every
# field passes unchanged ("*": "*"), review and score are computed from total, scored_at
# from nothing in the record.
LINEAGE = {"score": {"*": "*", "review": ["total"], "score": ["total"], "scored_at": []}}
