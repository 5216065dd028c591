"""The orders service: health, a small read API, the customers the ingest flow joins orders
with (created and seeded in its own database on start), and fulfilment.

``/tiers`` reads through the SDK's query cache: served from Redis until the customers table
is written (by anyone); ``/tiers/direct`` asks PostgreSQL every time (the baseline of
bench/cache.py). Each order placed reaches the ``fulfilment`` queue; the app ships it and,
in the same transaction, sends ``order-shipped`` to its ``order-events`` queue (the outbox:
sent if and only if the shipment is recorded)."""

from __future__ import annotations

import json

from httpbase import database, serve

from comind import sdk

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id int PRIMARY KEY, name text NOT NULL, tier text NOT NULL, country text NOT NULL);
INSERT INTO customers
SELECT i, 'customer ' || i, (ARRAY['free', 'silver', 'gold'])[1 + i % 3],
       (ARRAY['NL', 'DE', 'FR', 'GB', 'US'])[1 + i % 5]
FROM generate_series(1, 100) AS i ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS shipments (
    order_id text PRIMARY KEY, shipped_at timestamptz NOT NULL DEFAULT now());
"""
TIERS = "SELECT tier, count(*) FROM customers GROUP BY tier ORDER BY tier"
SHIP = "INSERT INTO shipments (order_id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING shipped_at"
env = sdk.AppEnv.from_environ()


def info() -> dict[str, object]:
    return {"app": "orders", "database": bool(env.database_url)}


def main() -> None:
    routes = {"/": info}
    if env.database_url and env.redis_url:
        pool, queries = database(env, SCHEMA, "customers", "shipments")

        def ship(body: str) -> None:
            order = json.loads(body)["id"]
            with pool.connection() as conn, conn.transaction():
                if shipped := conn.execute(SHIP, (order,)).fetchone():  # a repeat ships nothing
                    event = {"type": "order-shipped", "order_id": order, "at": str(shipped[0])}
                    sdk.outbox.send(conn, "order-events", json.dumps(event))

        def tiers() -> dict[str, int]:
            return dict(queries.rows(pool, TIERS, tables=["customers"]))

        def direct() -> dict[str, int]:
            with pool.connection() as conn:
                return dict(conn.execute(TIERS).fetchall())

        def shipments() -> dict[str, int]:
            count = "SELECT count(*) FROM shipments"
            return {"shipped": queries.rows(pool, count, tables=["shipments"])[0][0]}

        sdk.queues.consume_in_background(env.client("sqs"), "fulfilment", ship)
        routes |= {"/tiers": tiers, "/tiers/direct": direct, "/shipments": shipments}
    serve("orders", 8101, routes)


if __name__ == "__main__":
    main()
