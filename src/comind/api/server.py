"""Serving the API with uvicorn in a background thread of the platform process."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp

from comind.api.tls import WILDCARDS, TlsFiles
from comind.errors import ComindError, UsageError


def base_url(host: str, port: int, tls: TlsFiles | None = None) -> str:
    """Where local clients reach a server bound to ``host:port`` (a wildcard address is
    reached on loopback, which the platform's own certificate names)."""
    scheme = "https" if tls else "http"
    host = "127.0.0.1" if host in WILDCARDS else host
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def public_base(url: str, tls: TlsFiles | None) -> str:
    """``url`` as the API's address for clients (``--public-url``), checked: the scheme the
    API is served with, a host, nothing after it."""
    scheme = "https" if tls else "http"
    parts = urlsplit(url)
    if parts.scheme != scheme or not parts.hostname or parts.path.strip("/") or parts.query:
        raise UsageError(f"--public-url {url}: expected {scheme}://HOST[:PORT] (the API "
                         f"speaks {scheme.upper()} here)")  # fmt: skip
    return url.rstrip("/")


class ApiServer:
    """uvicorn bound to ``host:port`` (HTTPS with ``tls``); ``start`` returns once it
    accepts connections."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, tls: TlsFiles | None = None) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http="httptools",  # C parser and event loop: about a quarter less CPU per request
            loop="uvloop",
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.host, self.port, self.tls = host, port, tls
        self._thread = threading.Thread(target=self.server.run, name="comind-api", daemon=True)

    @property
    def url(self) -> str:
        return base_url(self.host, self.port, self.tls)

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ComindError(f"the API server could not listen on {self.host}:{self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
