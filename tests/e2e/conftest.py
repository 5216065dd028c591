"""Running the ``comind`` command as a user would: a subprocess with its own state directory."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.platforms import make_settings

from comind.embedded.home import StateDir
from comind.embedded.postgres import PostgresEngine
from comind.embedded.redis import RedisEngine

REPO_ROOT = Path(__file__).resolve().parents[2]
COMIND = [sys.executable, "-m", "comind.cli.main"]
Run = Callable[..., subprocess.CompletedProcess[str]]


# an e2e test starts a whole platform, drives it and brings it down inside its own time: on
# two cores shared by three test workers the longest took 93 s of the suite-wide 120 s bound,
# and on a loaded CI machine e2e tests ran 4-5x their time alone (216 s); the bound is there
# to catch a hang, not to time the test
E2E_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))


@pytest.fixture
def home(engine_home: Path) -> Path:
    return engine_home


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """The environment of a user whose only Comind setting is the state directory."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMIND_")}
    return {**clean, "COMIND_HOME": str(home), "COMIND_WAL_ARCHIVE": "false"}


@pytest.fixture
def launch(env: dict[str, str]) -> Callable[..., subprocess.Popen[str]]:
    """Start ``comind ARGS`` without waiting, output on a pipe."""

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*COMIND, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO_ROOT,
        )

    return start


def _log_tail(env: dict[str, str], lines: int = 30) -> str:
    """The platform's last log lines (what a 500 from its API left there), secrets redacted
    by the platform itself."""
    log = Path(env["COMIND_HOME"]) / "logs" / "comind.jsonl"
    if not log.exists():
        return ""
    return "\nlast platform log lines:\n" + "\n".join(log.read_text().splitlines()[-lines:])


@pytest.fixture
def comind(env: dict[str, str]) -> Iterator[Run]:
    """Run ``comind ARGS`` against ``home``; ``comind down`` runs afterwards regardless."""

    def run(
        *args: str,
        timeout: float = 120,
        check: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*COMIND, *args],
            capture_output=True,
            text=True,
            env={**env, **(extra_env or {})},
            cwd=REPO_ROOT,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"comind {' '.join(args)} exited {result.returncode}: {result.stderr}"
                + _log_tail(env)
            )
        return result

    yield run
    run("down")


@pytest.fixture
def managed(engine_root: Path) -> Iterator[tuple[str, str]]:
    """(postgres URL, redis URL) of servers the platform under test did not start."""
    home = StateDir(engine_root / f"managed-{uuid.uuid4().hex[:8]}")  # new servers per test
    home.create()
    settings = make_settings(home.root)
    postgres, cache = PostgresEngine(home, settings), RedisEngine(home, settings)
    postgres.start()
    cache.start()
    try:
        yield (f"postgresql://postgres:{postgres.password}@{postgres.host}:{postgres.port}/postgres",
               f"redis://default:{cache.password}@{cache.host}:{cache.port}")  # fmt: skip
    finally:
        cache.stop()
        postgres.stop()
