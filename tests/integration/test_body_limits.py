"""Bodies are bounded before they are read (issue 15, finding 3): a declared length over an
endpoint's limit is refused without reading a byte, and a body that streams past it is cut
off as soon as it does, so an unauthenticated sender cannot make the platform hold it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from comind.api.server import ApiServer
from comind.embedded.ports import free_port
from comind.platform import Platform

MB = 1024 * 1024


def status_of_declared(url: str, path: str, length: int, token: str = "") -> int:
    """The status answered to a POST that declares ``length`` bytes and sends two (within
    5 s: a body that never comes would otherwise be waited for 10 s, then 408)."""
    where = urlsplit(url)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with socket.create_connection((where.hostname or "", where.port or 80), timeout=5) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
                     f"{auth}Content-Length: {length}\r\n\r\n{{}}".encode())  # fmt: skip
        first = sock.recv(4096).split(b"\r\n", 1)[0]  # e.g. b"HTTP/1.1 413 Request ..."
    return int(first.split()[1])


@pytest.mark.parametrize(("path", "status"), [("/", 413), ("/api/v1/tokens", 401)])
def test_a_declared_400_mib_body_is_refused_unread(
    runtime: Platform, path: str, status: int
) -> None:
    # answered at once (the 400 MiB are never sent): the size, or who asks, refuses it first
    assert status_of_declared(runtime.url, path, 400 * MB) == status


def test_a_role_too_low_for_any_app_is_refused_before_its_body(runtime: Platform) -> None:
    """The red team's viewer sent a change's body slowly and held the request 10 s (408)."""
    viewer = runtime.engines.home.secret("api-viewer-token")
    assert status_of_declared(runtime.url, "/api/v1/backups/restore-points", 1000, viewer) == 403


def test_a_streamed_body_past_the_limit_is_cut_off(runtime: Platform) -> None:
    def chunks() -> Iterator[bytes]:
        block = b"x" * MB
        for _ in range(64):  # 64 MiB, chunked: no Content-Length to refuse up front
            yield block

    before = psutil.Process().memory_info().rss
    try:
        status = httpx.post(f"{runtime.url}/", content=chunks(), timeout=30).status_code
    except httpx.HTTPError:  # the server may close the connection as it refuses
        status = 413
    grown = psutil.Process().memory_info().rss - before
    assert status == 413
    assert grown < 20 * MB, f"the platform grew by {grown / MB:.0f} MiB"


@pytest.fixture
def strict_server() -> Iterator[ApiServer]:
    """The platform's server class with a 1-second header deadline over a one-route app."""

    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    server = ApiServer(Starlette(routes=[Route("/", ok)]), host="127.0.0.1",
                       port=free_port("127.0.0.1"), header_seconds=1.0)  # fmt: skip
    server.start()
    yield server
    server.stop()


def test_a_client_trickling_its_headers_is_cut_off(strict_server: ApiServer) -> None:
    """uvicorn waits for headers for ever: a few hundred such clients would hold it."""
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: api\r\n")  # and then nothing more
        assert sock.recv(4096) == b""  # closed by the server, long before our 20 s
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: api\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
