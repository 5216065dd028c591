"""A platform for a benchmark: ``comind up --detach`` in its own process and state directory,
on a repo that declares nothing (so no app or flow worker competes for the cores)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def bench_platform(
    name: str, env: dict[str, str] | None = None
) -> Iterator[tuple[Path, StateDir, PlatformState]]:
    """A detached platform in a temporary directory (its root, home and state), stopped and
    removed on the way out, however the benchmark ends."""
    root = Path(tempfile.mkdtemp(prefix=f"comind-{name}-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    try:
        home, state = detached_platform(root, name, env)
        yield root, home, state
    finally:
        subprocess.run([sys.executable, "-m", "comind.cli.main", "--home", str(root / "home"),
                        "down"], capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
