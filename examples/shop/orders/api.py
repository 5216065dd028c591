"""The orders service: health, a small read API, and the customers the ingest flow joins
orders with (created and seeded in its own database on start). ``/tiers`` reads through the
SDK's query cache: served from Redis until the customers table is written (by anyone);
``/tiers/direct`` asks PostgreSQL every time (the baseline of bench/cache.py)."""

from __future__ import annotations

from httpbase import serve
from psycopg_pool import ConnectionPool

from comind import sdk

CUSTOMERS = """
CREATE TABLE IF NOT EXISTS customers (
    id int PRIMARY KEY, name text NOT NULL, tier text NOT NULL, country text NOT NULL);
INSERT INTO customers
SELECT i, 'customer ' || i, (ARRAY['free', 'silver', 'gold'])[1 + i % 3],
       (ARRAY['NL', 'DE', 'FR', 'GB', 'US'])[1 + i % 5]
FROM generate_series(1, 100) AS i ON CONFLICT DO NOTHING;
"""
TIERS = "SELECT tier, count(*) FROM customers GROUP BY tier ORDER BY tier"
env = sdk.AppEnv.from_environ()


def info() -> dict[str, object]:
    return {"app": "orders", "database": bool(env.database_url)}


def main() -> None:
    routes = {"/": info}
    if env.database_url and env.redis_url:
        pool = ConnectionPool(env.database_url, min_size=1, max_size=4, kwargs={"autocommit": True})
        with pool.connection() as conn:
            conn.execute(CUSTOMERS)
            sdk.QueryCache.watch(conn, "customers")
        queries = sdk.QueryCache(sdk.Cache.of(env))

        def tiers() -> dict[str, int]:
            return dict(queries.rows(pool, TIERS, tables=["customers"]))

        def direct() -> dict[str, int]:
            with pool.connection() as conn:
                return dict(conn.execute(TIERS).fetchall())

        routes |= {"/tiers": tiers, "/tiers/direct": direct}
    serve("orders", 8101, routes)


if __name__ == "__main__":
    main()
