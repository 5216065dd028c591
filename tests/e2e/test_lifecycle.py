"""`comind up --detach`, `status`, healing, `down` — the acceptance path of the foundation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]


def _status(comind: Run) -> dict[str, object]:
    doc: dict[str, object] = json.loads(comind("status", "--json").stdout)
    return doc


def _engines(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    engines = doc["engines"]
    assert isinstance(engines, dict)
    return engines


def test_up_status_heal_down(comind: Run, home: Path) -> None:
    started = comind("up", "--detach", "--api-port", "0", "--repo", "examples/shop", check=True)
    assert "dashboard / API" in started.stdout
    doc = _status(comind)
    engines = _engines(doc)
    for name in ("postgres", "redis", "objects"):
        assert engines[name]["state"] == "healthy", engines[name]
        assert engines[name]["address"]
    assert isinstance(doc["api_url"], str)
    assert httpx.get(f"{doc['api_url']}/readyz").status_code == 200
    secret = (home / "secrets" / "postgres-password").read_text().strip()
    assert secret not in started.stdout + started.stderr + json.dumps(doc)

    killed = engines["postgres"]["pid"]
    assert isinstance(killed, int)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pg = _engines(_status(comind))["postgres"]
        if pg["state"] == "healthy" and pg["pid"] not in (None, killed):
            break
        time.sleep(0.2)
    assert pg["state"] == "healthy" and pg["pid"] != killed, pg

    platform_pid = doc["pid"]
    assert isinstance(platform_pid, int)
    engine_pids = [e["pid"] for e in _engines(_status(comind)).values() if e["pid"]]
    stopped = comind("down", check=True)
    assert "stopped" in stopped.stdout
    for pid in [platform_pid, *engine_pids]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(home) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
    after = comind("status", "--json")
    assert after.returncode == 1
    assert json.loads(after.stdout)["running"] is False


def test_a_second_up_on_the_same_home_is_refused(comind: Run) -> None:
    comind("up", "--detach", "--api-port", "0", "--repo", "examples/shop", check=True)
    pid = _status(comind)["pid"]
    again = comind("up", "--detach", "--api-port", "0", "--repo", "examples/shop")
    assert again.returncode == 1
    assert f"pid {pid} holds comind.lock" in again.stderr
    assert "Traceback" not in again.stderr


def test_foreground_up_stops_cleanly_on_ctrl_c(
    launch: Callable[..., subprocess.Popen[str]],
) -> None:
    proc = launch("up", "--api-port", "0", "--repo", "examples/shop")
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Press Ctrl-C to stop." in line:
            break
    assert any("PostgreSQL" in line for line in seen), "".join(seen)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopped; data kept in" in rest
    assert children and not any(c.is_running() and c.status() != "zombie" for c in children)
