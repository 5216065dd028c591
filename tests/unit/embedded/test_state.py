"""State directory, lock file and port choice."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from comind.embedded.engine import EngineError
from comind.embedded.home import StateDir
from comind.embedded.lock import LockHeld, PlatformLock, holder_pid
from comind.embedded.ports import choose, free_port
from comind.errors import ComindError


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    home = StateDir(tmp_path)
    home.create()
    first = home.secret("pw")
    assert home.secret("pw") == first
    assert len(first) >= 24
    mode = stat.S_IMODE((tmp_path / "secrets" / "pw").stat().st_mode)
    assert mode == 0o600


def test_a_file_where_the_state_directory_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("oops")
    with pytest.raises(ComindError, match="is not a directory"):
        StateDir(tmp_path / "home").create()


def test_a_corrupt_state_file_is_one_clear_error(tmp_path: Path) -> None:
    home = StateDir(tmp_path)
    home.state_file.write_text("{not json")
    with pytest.raises(ComindError, match=r"state\.json is unreadable"):
        home.read_state()


def test_the_lock_names_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "comind.lock"
    first = PlatformLock(path)
    first.acquire()
    assert holder_pid(path) == os.getpid()
    with pytest.raises(LockHeld, match=f"pid {os.getpid()} holds comind.lock"):
        PlatformLock(path).acquire()
    first.release()
    assert holder_pid(path) is None
    again = PlatformLock(path)
    again.acquire()
    again.release()


def test_a_pinned_port_that_is_taken_is_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(EngineError, match=f"port {taken} on 127.0.0.1 is taken; set X"):
            choose("127.0.0.1", pinned=taken, record=tmp_path / "port", setting="X")


def test_an_unpinned_port_is_kept_across_restarts(tmp_path: Path) -> None:
    record = tmp_path / "port"
    first = choose("127.0.0.1", pinned=0, record=record, setting="X")
    assert choose("127.0.0.1", pinned=0, record=record, setting="X") == first
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", first))
        sock.listen()
        assert choose("127.0.0.1", pinned=0, record=record, setting="X") != first
    assert free_port("127.0.0.1") > 0
