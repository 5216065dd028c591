"""A platform for a benchmark: ``comind up --detach`` in its own process and state directory,
on a repo that declares nothing (so no app or flow worker competes for the cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from comind.embedded.home import StateDir
from comind.embedded.state import PlatformState


def detached_platform(
    root: Path, name: str, env: dict[str, str] | None = None
) -> tuple[StateDir, PlatformState]:
    repo = root / "platform"
    repo.mkdir(parents=True)
    (repo / "comind.yaml").write_text(f"platform: {{name: {name}}}\n")
    cmd = [sys.executable, "-m", "comind.cli.main", "--home", str(root / "home")]
    subprocess.run(
        [*cmd, "up", "--detach", "--api-port", "0", "--repo", str(repo)],
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    home = StateDir(root / "home")
    state = home.read_state()
    assert state is not None
    return home, state
