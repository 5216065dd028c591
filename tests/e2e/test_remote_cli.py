"""One control path: the CLI drives a platform from an empty state directory with only its URL
and a token, a viewer token is refused every change, and commands ride out a PostgreSQL kill.

The cases share one platform (starting one costs time); each leaves it as it found it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import COMIND, REPO_ROOT
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(env: dict[str, str]) -> Run:
    def run(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*COMIND, *args], capture_output=True, text=True, cwd=REPO_ROOT,
                              env={**env, **(extra or {})}, timeout=120, check=False)  # fmt: skip

    return run


@pytest.fixture(scope="module")
def local(engine_root: Path) -> Iterator[Run]:
    """``comind`` on the platform's own machine (its state directory), the platform up."""
    home = engine_root / f"home-{uuid.uuid4().hex[:12]}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMIND_")}
    run = _runner({**clean, "COMIND_HOME": str(home), "COMIND_WAL_ARCHIVE": "false"})
    started = run("up", "--detach", "--api-port", "0", "--repo", "examples/shop")
    assert started.returncode == 0, started.stdout + started.stderr
    yield run
    run("down")


@pytest.fixture(scope="module")
def state(local: Run) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(local("status", "--json").stdout)
    return doc


@pytest.fixture(scope="module")
def viewer(local: Run) -> dict[str, Any]:
    made = local("token", "create", "--role", "viewer", "--json")
    assert made.returncode == 0, made.stderr
    doc: dict[str, Any] = json.loads(made.stdout)
    return doc


@pytest.fixture(scope="module")
def empty(engine_root: Path) -> Path:
    path = engine_root / f"empty-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def remote(state: dict[str, Any], viewer: dict[str, Any], empty: Path) -> Run:
    """``comind`` elsewhere: an empty state directory, the server URL and a viewer token."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMIND_")}
    env = {**clean, "COMIND_HOME": str(empty), "COMIND_SERVER": state["api_url"],
           "COMIND_TOKEN": viewer["token"]}  # fmt: skip
    return _runner(env)


def jget(run: Run, *args: str) -> Any:
    result = run(*args, "--json")
    assert result.returncode == 0, f"comind {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def test_every_read_works_with_only_a_url_and_a_token(
    remote: Run, state: dict[str, Any], viewer: dict[str, Any], empty: Path
) -> None:
    flags = ("--server", state["api_url"], "--token", viewer["token"])
    status = jget(remote, *flags, "status")
    assert status["running"] is True and status["engines"]["postgres"]["state"] == "healthy"
    queues = {q["queue"] for q in jget(remote, "queue", "ls")}
    assert {"orders/order-events", "orders/order-events-dlq"} <= queues
    flows = jget(remote, "flow", "ls")
    assert flows, "the shop example declares flows"
    shown = jget(remote, "flow", "status", flows[0]["name"])
    assert shown["kind"] == flows[0]["kind"]
    assert isinstance(jget(remote, "flow", "dlq", flows[0]["name"]), list)
    assert isinstance(jget(remote, "backup", "ls"), list)
    # the first sync (a self-heal may follow it on a loaded machine: not this test's matter)
    first = min(jget(remote, "history"), key=lambda sync: int(sync["id"]))
    assert first["outcome"] == "Succeeded", first["message"]  # the failing resources
    lines = jget(remote, "logs", "--since", "1h")
    assert any("first sync" in line["message"] for line in lines)
    plain = remote("queue", "ls")
    assert plain.returncode == 0 and "orders/order-events" in plain.stdout
    ran = remote("flow", "run", flows[0]["name"])  # done by the platform: an operator's call
    assert ran.returncode == 1 and "needs an operator token" in ran.stderr, ran.stderr
    refused = remote("down")  # acts on this machine's state directory only
    assert refused.returncode == 2 and "without --server" in refused.stderr
    assert list(empty.iterdir()) == []  # nothing was read from or written to it


def test_a_viewer_token_is_refused_every_change(
    remote: Run, local: Run, viewer: dict[str, Any]
) -> None:
    refusals = {
        ("queue", "purge", "orders/order-events", "--yes"): (
            "POST /api/v1/queues/orders/order-events/purge", "an operator"),
        ("queue", "send", "orders/order-events", "hi"): (
            "POST /api/v1/queues/orders/order-events/messages", "an operator"),
        ("token", "create", "--role", "admin"): ("POST /api/v1/tokens", "an admin"),
        ("app", "rotate-key", "orders", "--yes"): (
            "POST /api/v1/apps/orders/rotate-key", "an admin"),
        ("flow", "token", "ingest-orders"): (
            "GET /api/v1/flows/ingest-orders/token", "an operator"),
    }  # fmt: skip
    for args, (call, needs) in refusals.items():
        refused = remote(*args)
        assert (refused.returncode, refused.stderr.strip()) == (
            1,
            f"error: {call}: this needs {needs} token; the token given is a viewer",
        ), args
    audit = jget(local, "audit", "--limit", "50")
    mine = {(e["action"], e["target"], e["outcome"]) for e in audit if e["actor"] == viewer["id"]}
    assert {("queue-purge", "orders/order-events", "refused"), ("token-create", "*", "refused"),
            ("rotate-key", "orders", "refused")} <= mine  # fmt: skip


def test_an_unknown_token_and_an_unknown_queue_are_one_line(remote: Run) -> None:
    unknown = remote("queue", "ls", extra={"COMIND_TOKEN": "cmt_nope_nope"})
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1,
        "error: GET /api/v1/queues: the token was refused (unknown, expired or revoked)",
    )
    missing = remote("queue", "stats", "orders/nope")
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "error: no queue 'orders/nope' (see `comind queue ls`)",
    )


def test_commands_ride_out_a_postgres_kill(local: Run, remote: Run) -> None:
    before = jget(local, "status")["engines"]["postgres"]["pid"]
    os.kill(before, signal.SIGKILL)  # the supervisor restarts it in about a second
    env = jget(local, "app", "env", "orders")["env"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("AKCM")
    assert "orders/order-events" in {q["queue"] for q in jget(remote, "queue", "ls")}
    healed = lambda: jget(local, "status")["engines"]["postgres"]["pid"] != before  # noqa: E731
    assert wait_until(healed, timeout=30)
