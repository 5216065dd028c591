"""An app that names an artifact (`artifact: NAME@VERSION`) runs from that archive's content,
not from the repository: before the artifact is pushed its sync fails saying so; once pushed
the app runs its code, and the artifact is marked deployed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.gitrepo import git
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
SPEC = """\
platform: {name: built}
apps:
  greeter:
    run: python greet.py
    artifact: greeter@1.0
"""
GREET = b"""\
import os, pathlib, time
pathlib.Path(os.environ["HOME"], "greeted").write_text("hello from the artifact")
time.sleep(3600)
"""


def build(into: Path) -> Path:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("greet.py")
        info.size = len(GREET)
        tar.addfile(info, io.BytesIO(GREET))
    into.write_bytes(out.getvalue())
    return into


def test_an_app_runs_from_its_artifact(comind: Run, home: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "comind.yaml").write_text(SPEC)  # no greet.py in the repository at all
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "greeter from an artifact")
    comind("up", "--repo", str(repo), "--detach", "--api-port", "0", timeout=300, check=True)
    history = json.loads(comind("history", "--json", check=True).stdout)
    assert "no artifact greeter@1.0 in the registry" in json.dumps(history[0])

    comind("artifact", "push", "greeter", "1.0", str(build(tmp_path / "greeter.tgz")),
           "--commit", git(repo, "rev-parse", "HEAD"), check=True)  # fmt: skip
    comind("sync", check=True)
    greeted = home / "apps" / "greeter" / "home" / "greeted"
    if os.geteuid() != 0:  # without root apps run as the platform's user, HOME still theirs
        greeted = next(iter(home.glob("apps/greeter/**/greeted")), greeted)
    assert wait_until(greeted.exists, 60), comind("app", "ls", "--json").stdout
    assert greeted.read_text() == "hello from the artifact"
    listed = json.loads(comind("artifact", "ls", "--json", check=True).stdout)
    assert [(a["name"], a["deployed"]) for a in listed] == [("greeter", True)]
