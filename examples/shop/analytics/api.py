"""The analytics service: health and a small read API."""

from __future__ import annotations

import os

from httpbase import serve


def info() -> dict[str, object]:
    return {"app": "analytics", "database": bool(os.environ.get("DATABASE_URL"))}


if __name__ == "__main__":
    serve("analytics", 8103, {"/": info})
