"""Bad command-line input: one actionable line, the right exit code, no traceback."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_status_without_a_platform_exits_1(comind: Run, home: Path) -> None:
    result = comind("status")
    assert result.returncode == 1
    assert f"no platform is running on {home}" in result.stdout


def test_a_taken_api_port_is_refused_before_anything_starts(comind: Run, home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = comind("up", "--api-port", str(port), "--repo", "examples/shop")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: API port {port} on 127.0.0.1 is taken; pass --api-port or set COMIND_API_PORT"
    )
    assert not (home / "postgres" / "data" / "PG_VERSION").exists()


def test_a_missing_postgres_binary_is_one_line(comind: Run) -> None:
    result = comind(
        "up",
        "--api-port",
        "0",
        "--repo",
        "examples/shop",
        extra_env={"COMIND_PG_BIN": "/nonexistent/bin"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: COMIND_PG_BIN=/nonexistent/bin holds no initdb"


def test_debug_shows_the_traceback(comind: Run) -> None:
    result = comind(
        "--debug",
        "up",
        "--api-port",
        "0",
        "--repo",
        "examples/shop",
        extra_env={"COMIND_PG_BIN": "/nonexistent/bin"},
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_a_missing_repo_directory_is_a_usage_error(comind: Run) -> None:
    result = comind("up", "--repo", "/nonexistent/repo")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --repo /nonexistent/repo: no such directory"


def test_the_bundled_example_validates(comind: Run) -> None:
    result = comind("validate", "examples/shop")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
