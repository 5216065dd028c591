"""Serving the API with uvicorn in a background thread of the platform process.

A request's headers must arrive within ``HEADER_SECONDS`` of its first byte (or of the
connection): uvicorn has no such limit, and a client trickling header bytes would hold its
connection, and with a few hundred of them the server, for ever. Bodies are bounded in time
and size by :mod:`comind.api.limits`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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


HEADER_SECONDS = 10.0


class _HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request headers are late."""

    header_seconds = HEADER_SECONDS
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.header_seconds, self._too_slow)

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def _protocol(header_seconds: float) -> type[HttpToolsProtocol]:
    return type("HeaderDeadline", (_HeaderDeadline,), {"header_seconds": header_seconds})


class ApiServer:
    """uvicorn bound to ``host:port`` (HTTPS with ``tls``); ``start`` returns once it
    accepts connections."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, tls: TlsFiles | None = None,
                 header_seconds: float = HEADER_SECONDS) -> None:  # fmt: skip
        http: Any = _protocol(header_seconds)  # C parser: about a quarter less CPU per request
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            # a client on loopback (any app) must not choose the scheme a request "came" with:
            # S3's signed-payload rule and the cookie's Secure flag read it
            proxy_headers=False,
            access_log=False,
            lifespan="off",
            http=http,
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
