"""A Git server over HTTP with Basic authentication: ``git http-backend`` behind a tiny
``http.server``, for tests of fetching with credentials.

While it answers a request the client's processes (git, git-remote-http) are alive, so
each request also records the command line of every process on the machine: a secret
that shows in ``ps`` shows there.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

BACKEND = "http-backend"


@dataclass
class Seen:
    """What the server saw: requests by answer status, and every command line during them."""

    statuses: list[int] = field(default_factory=list)
    cmdlines: list[str] = field(default_factory=list)


def _cmdlines() -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        found.append(" ".join(proc.info["cmdline"] or []))
    return found


def _handler(root: Path, login: str, seen: Seen) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(login.encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads :class:`Seen` instead."""

        def _serve(self) -> None:
            seen.cmdlines.extend(_cmdlines())
            if self.headers.get("Authorization") != expected:
                self._answer(401, {"WWW-Authenticate": 'Basic realm="git"'}, b"")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            env = {
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "REMOTE_USER": login.partition(":")[0],
            }
            done = subprocess.run(["git", BACKEND], input=body, env=env, capture_output=True,
                                  check=False)  # fmt: skip
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if line)
            status = int(headers.pop("Status", "200").split()[0])
            self._answer(status, headers, payload)

        def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            seen.statuses.append(status)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def git_http_server(root: Path, login: str) -> Iterator[tuple[str, Seen]]:
    """Serve the repositories under ``root`` at the yielded base URL, for ``login``
    (``user:password``) only."""
    seen = Seen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, login, seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
