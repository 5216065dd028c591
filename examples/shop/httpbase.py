"""What the example apps share: a tiny JSON HTTP server (standard library only), and their
database through the app SDK (a pool, tables made, the query cache watching them)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from psycopg_pool import ConnectionPool

from comind import sdk

Routes = dict[str, Callable[[], object]]


def database(env: sdk.AppEnv, schema: str, *watched: str) -> tuple[ConnectionPool, sdk.QueryCache]:
    """The app's database: a pool, ``schema`` applied, the query cache watching ``watched``."""
    pool = ConnectionPool(
        env.database_url or "", min_size=1, max_size=4, kwargs={"autocommit": True}
    )
    with pool.connection() as conn:
        conn.execute(schema)
        sdk.QueryCache.watch(conn, *watched)
    return pool, sdk.QueryCache(sdk.Cache.of(env))


def serve(name: str, default_port: int, routes: Routes) -> None:
    """Serve ``routes`` (GET path -> JSON body) plus /healthz on $PORT."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, {"status": "ok", "app": name})
            elif self.path in routes:
                self._send(200, routes[self.path]())
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def _send(self, status: int, doc: object) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            print(f"{name}: {format % args}", flush=True)

    port = int(os.environ.get("PORT", default_port))
    host = os.environ.get("HOST", "127.0.0.1")  # where the platform probes and reaches it
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"{name} listening on {host}:{port}", flush=True)
    server.serve_forever()
