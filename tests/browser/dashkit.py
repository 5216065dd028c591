"""The dashboard tests' platform: the Git repository it follows, its spec, and what a test
needs to reach it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.webapp import web_app

from comind.embedded.ports import free_port
from comind.platform import Platform
from comind.queue.layer import MessageLayer

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
SPEC = """\
platform: {{name: dash}}
environments:
  dev: {{sync: {{auto: false}}}}   # a commit waits for a person's sync
apps:
{apps}
flows:
  relay:
    kind: stream
    source: http://shop
    batch: {{size: 100, max_wait: 0}}
    sink: {{queue: shop/done}}
"""
APP = """\
  {name}:
    run: python web.py
    port: {port}
    health: {{http: /healthz}}
    cache: {{ttl: 60}}
    queues:
      jobs: {{dlq: {{max_receives: 1}}}}
      mail: {{dlq: {{max_receives: 1}}}}
      done: {{}}
"""


PORTS: dict[str, int] = {}  # each app keeps its port across commits


def commit(repo: Path, *apps: str) -> None:
    """Commit a spec with ``apps`` to the platform's repository."""
    text = "".join(
        APP.format(name=a, port=PORTS.setdefault(a, free_port("127.0.0.1"))) for a in apps
    )
    (repo / "comind.yaml").write_text(SPEC.format(apps=text))
    (repo / "web.py").write_text(
        web_app('"ok"', 'print("listening on", os.environ["PORT"], flush=True)')
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "apps: " + ", ".join(apps))


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})  # fmt: skip


@dataclass(frozen=True)
class Dash:
    """The running platform, the Git repository it follows and tokens to sign in with."""

    runtime: Platform
    repo: Path
    operator: str
    viewer: str
    admin: str  # the state directory's built-in admin token

    @property
    def url(self) -> str:
        return self.runtime.url

    @property
    def layer(self) -> MessageLayer:
        assert self.runtime.messages is not None
        return self.runtime.messages
