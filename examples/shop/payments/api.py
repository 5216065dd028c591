"""The payments service: health and a small read API."""

from __future__ import annotations

import os

from httpbase import serve


def info() -> dict[str, object]:
    return {"app": "payments", "database": bool(os.environ.get("DATABASE_URL"))}


if __name__ == "__main__":
    serve("payments", 8102, {"/": info})
