"""Fixtures for every tier.

No COMIND_* variable from a developer's shell leaks into a test. Engine state lives
outside pytest's private temp tree: as root, PostgreSQL and the apps run as other users and
must traverse to the state directory, while pytest resets its tree to mode 0700 whenever
another pytest session starts on the machine. The platform opens no directory above its
state directory, so the root of the tests' state directories is made traversable here, as
an operator would (``chmod o+x``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _clean_comind_env() -> None:
    for key in [k for k in os.environ if k.startswith("COMIND_")]:
        del os.environ[key]


@pytest.fixture(scope="session")
def engine_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="comind-tests-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def engine_home(engine_root: Path) -> Path:
    """A fresh, not yet existing state directory for one test's platform."""
    return engine_root / f"home-{uuid.uuid4().hex[:12]}"
