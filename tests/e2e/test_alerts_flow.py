"""Acceptance of the embedded alerting: a killed app that keeps crashing raises an alert
delivered to a webhook receiver, and the alert resolves when the app recovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.webapp import web_app
from tests.waiting import wait_until

from comind.embedded.ports import free_port

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
WEB = web_app("str(os.getpid())", 'if os.path.exists(os.environ["CRASH_FLAG"]):\n    sys.exit(3)\n')
SPEC = """\
platform: {{name: watched}}
apps:
  web:
    run: python web.py
    port: {port}
    health: {{http: /}}
    env: {{CRASH_FLAG: "{flag}"}}
alerts:
  - name: WebDown
    expr: "comind_app_up{{app='web'}} == 0"
    severity: critical
    annotations: {{summary: "web has no healthy instance"}}
"""


def receiver() -> tuple[ThreadingHTTPServer, str, list[dict[str, Any]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/alerts", bodies


def statuses(bodies: list[dict[str, Any]]) -> list[str]:
    return [
        a["status"] for b in bodies for a in b["alerts"] if a["labels"]["alertname"] == "WebDown"
    ]


def test_a_crashing_app_fires_an_alert_that_resolves(comind: Run, tmp_path: Path) -> None:
    repo, flag, port = tmp_path / "repo", tmp_path / "crash", free_port("127.0.0.1")
    repo.mkdir()
    (repo / "web.py").write_text(WEB)
    (repo / "comind.yaml").write_text(SPEC.format(port=port, flag=flag))
    server, url, bodies = receiver()
    try:
        settings = {"COMIND_ALERT_WEBHOOKS": url, "COMIND_SAMPLE_INTERVAL": "0.5"}
        comind("up", "--detach", "--api-port", "0", "--repo", str(repo), check=True,
               extra_env=settings)  # fmt: skip
        pid = int(httpx.get(f"http://127.0.0.1:{port}/").text)
        flag.write_text("crash from now on")
        os.kill(pid, signal.SIGKILL)  # killed, and every restart exits at once
        assert wait_until(lambda: statuses(bodies) == ["firing"], 30), bodies
        firing = next(a for b in bodies for a in b["alerts"] if a["status"] == "firing")
        assert firing["labels"]["severity"] == "critical"
        assert firing["annotations"] == {"summary": "web has no healthy instance"}
        flag.unlink()  # the next restart comes up healthy
        assert wait_until(lambda: statuses(bodies) == ["firing", "resolved"], 60), bodies
    finally:
        server.shutdown()
        server.server_close()
