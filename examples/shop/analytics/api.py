"""The analytics service: health and ``/facts``, orders per country from the table the
order-facts flow fills, cached for the spec's ``cache.ttl`` (cache-aside: a flow writes
far more often than anyone reads, so a short staleness is the better trade here)."""

from __future__ import annotations

import psycopg
from httpbase import serve

from comind import sdk

FACTS = "SELECT country, count(*), sum(total) FROM order_facts GROUP BY country ORDER BY 1"
env = sdk.AppEnv.from_environ()


def info() -> dict[str, object]:
    return {"app": "analytics", "database": bool(env.database_url)}


def facts() -> dict[str, object]:
    try:
        with psycopg.connect(env.database_url or "") as conn:
            rows = conn.execute(FACTS).fetchall()
    except psycopg.errors.UndefinedTable:  # no order has arrived yet
        return {}
    return {str(country): {"orders": n, "total": float(total)} for country, n, total in rows}


def main() -> None:
    routes = {"/": info}
    if env.database_url and env.redis_url:
        cache = sdk.Cache.of(env)
        routes["/facts"] = lambda: cache.get_or_set("facts", facts)
    serve("analytics", 8103, routes)


if __name__ == "__main__":
    main()
