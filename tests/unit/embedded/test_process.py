"""Engines and their tools get only what running them needs: never the platform's own
environment, which holds passphrases and tokens a database superuser could otherwise read
from ``/proc/PID/environ`` of the server (red team, issue 17)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.waiting import wait_until

from comind.embedded.osuser import RunAs
from comind.embedded.process import engine_env, launch, terminate


def test_an_engine_never_sees_the_platforms_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMIND_KEK_PASSPHRASE", "hunter2-passphrase")
    monkeypatch.setenv("COMIND_TOKEN", "tok-secret")
    proc = launch(["sleep", "30"], log=tmp_path / "engine.log", run_as=RunAs(), cwd=tmp_path)
    try:  # read once it runs sleep: until its exec, the child still holds our environment
        assert wait_until(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes()
                          .startswith(b"sleep"), 5)  # fmt: skip
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        terminate(proc.pid, sig=signal.SIGTERM, timeout=5)
        proc.wait(5)
    names = {entry.partition(b"=")[0].decode() for entry in environ if entry}
    assert "COMIND_KEK_PASSPHRASE" not in names and "COMIND_TOKEN" not in names
    assert {"PATH", "LC_ALL"} <= names
    tool = engine_env({"PGPASSWORD": "pw"})
    assert tool["PGPASSWORD"] == "pw" and not any(k.startswith("COMIND_") for k in tool)
