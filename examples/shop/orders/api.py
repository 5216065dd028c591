"""The orders service: health and a small read API."""

from __future__ import annotations

import os

from httpbase import serve


def info() -> dict[str, object]:
    return {"app": "orders", "database": bool(os.environ.get("DATABASE_URL"))}


if __name__ == "__main__":
    serve("orders", 8101, {"/": info})
