"""The payments service: health, a read API, and settlement. Each order placed reaches the
``new-orders`` queue; the app settles it and, in the same transaction, publishes
``payment-settled`` (the outbox: announced if and only if the settlement is recorded, once
per order however often the order is delivered). ``/settlements`` reads through the query
cache."""

from __future__ import annotations

import json

from httpbase import database, serve

from comind import sdk

SCHEMA = """
CREATE TABLE IF NOT EXISTS settlements (
    id text PRIMARY KEY, order_id text NOT NULL UNIQUE, amount numeric NOT NULL,
    currency text NOT NULL, card_number text, settled_at timestamptz NOT NULL DEFAULT now());
"""
SETTLE = """
INSERT INTO settlements (id, order_id, amount, currency) VALUES (%s, %s, %s, %s)
ON CONFLICT (order_id) DO NOTHING RETURNING id
"""
TOTALS = "SELECT currency, count(*), sum(amount) FROM settlements GROUP BY currency ORDER BY 1"
env = sdk.AppEnv.from_environ()


def info() -> dict[str, object]:
    return {"app": "payments", "database": bool(env.database_url)}


def main() -> None:
    routes = {"/": info}
    if env.database_url and env.redis_url:
        pool, queries = database(env, SCHEMA, "settlements")

        def settle(body: str) -> None:
            order = json.loads(body)
            values = (f"s-{order['id']}", order["id"], order["total"], order["currency"])
            with pool.connection() as conn, conn.transaction():
                if settled := conn.execute(SETTLE, values).fetchone():
                    event = {"settlement": settled[0], "order_id": order["id"],
                             "amount": order["total"], "currency": order["currency"]}  # fmt: skip
                    sdk.events.publish(conn, "payment-settled", json.dumps(event),
                                       attributes={"currency": order["currency"]})  # fmt: skip

        def settlements() -> dict[str, object]:
            rows = queries.rows(pool, TOTALS, tables=["settlements"])
            return {currency: {"count": n, "amount": amount} for currency, n, amount in rows}

        sdk.queues.consume_in_background(env.client("sqs"), "new-orders", settle)
        routes |= {"/settlements": settlements}
    serve("payments", 8102, routes)


if __name__ == "__main__":
    main()
