"""The orders service: health, a small read API, and the customers the ingest flow joins
orders with (created and seeded in its own database on start)."""

from __future__ import annotations

import os

from httpbase import serve

CUSTOMERS = """
CREATE TABLE IF NOT EXISTS customers (
    id int PRIMARY KEY, name text NOT NULL, tier text NOT NULL, country text NOT NULL);
INSERT INTO customers
SELECT i, 'customer ' || i, (ARRAY['free', 'silver', 'gold'])[1 + i % 3],
       (ARRAY['NL', 'DE', 'FR', 'GB', 'US'])[1 + i % 5]
FROM generate_series(1, 100) AS i ON CONFLICT DO NOTHING;
"""


def seed_customers() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CUSTOMERS)


def info() -> dict[str, object]:
    return {"app": "orders", "database": bool(os.environ.get("DATABASE_URL"))}


if __name__ == "__main__":
    seed_customers()
    serve("orders", 8101, {"/": info})
