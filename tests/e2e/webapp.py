"""The source of a tiny stdlib HTTP app for platform repos made by e2e tests."""

from __future__ import annotations

TEMPLATE = """\
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
{preamble}

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ({body}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def web_app(body: str, preamble: str = "") -> str:
    """An app on ``$PORT`` answering every GET with the Python expression ``body`` (a str)."""
    return TEMPLATE.format(body=body, preamble=preamble)
