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
import socket
import subprocess
import sys
import tempfile
import time
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


# -- the OS users the platforms of this run made for their apps
#
# As root, every platform makes a system user (and group) per app, named for its state
# directory, and never deletes it: a state directory outlives its platform. Test platforms
# live in temp directories, so their users would pile up run after run until useradd runs
# out of system ids. The controlling process (not an xdist worker, whose peers may still
# run apps) deletes after the run the app users that were not there before it.

APP_USER_PREFIX = "comind-"
_BEFORE = pytest.StashKey[set[str]]()


def _app_users() -> set[str]:
    try:
        import pwd
    except ImportError:  # not on Linux: no app users
        return set()
    return {p.pw_name for p in pwd.getpwall() if p.pw_name.startswith(APP_USER_PREFIX)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        session.config.stash[_BEFORE] = _app_users()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or os.geteuid() != 0:
        return
    before = session.config.stash.get(_BEFORE, set())
    userdel = shutil.which("userdel") or "/usr/sbin/userdel"
    groupdel = shutil.which("groupdel") or "/usr/sbin/groupdel"
    for name in sorted(_app_users() - before):
        subprocess.run([userdel, name], capture_output=True, check=False)
        subprocess.run([groupdel, name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server: the API double of AWS (SQS, S3) for the backends that talk to AWS."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
