"""Probes answer None or a reason without env values; app environments start clean."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from comind.apps.env import environment, scrub
from comind.apps.model import AppSpec
from comind.apps.probes import Probe, Target, command_failure, tcp_failure
from comind.embedded.ports import free_port
from comind.errors import UsageError

SECRET = "hunter2-very-secret"


def target(tmp_path: Path, **env: str) -> Target:
    full = environment(tmp_path, env, None)
    return Target("127.0.0.1", None, None, tmp_path, full, tuple(env.values()))


@pytest.mark.parametrize("kinds", [{}, {"http": "/healthz", "tcp": 8000}])
def test_a_probe_needs_exactly_one_kind(kinds: dict[str, str | int]) -> None:
    with pytest.raises(UsageError, match="exactly one of http, tcp or command"):
        Probe(**kinds)  # type: ignore[arg-type]


def test_an_http_probe_needs_a_port(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="http health probe needs the app's port"):
        AppSpec("web", "true", tmp_path, {}, "r1", probe=Probe(http="/healthz"))


def test_an_app_name_cannot_leave_the_log_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="app name"):
        AppSpec("../etc", "true", tmp_path, {}, "r1")


def test_the_spec_repr_hides_env_values(tmp_path: Path) -> None:
    spec = AppSpec("web", "true", tmp_path, {"TOKEN": SECRET}, "r1")
    assert SECRET not in repr(spec)


def test_tcp_probe_passes_on_a_listening_port_and_explains_a_refusal() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert tcp_failure("127.0.0.1", server.getsockname()[1], 1.0) is None
    closed = free_port("127.0.0.1")
    assert tcp_failure("127.0.0.1", closed, 1.0) == f"tcp 127.0.0.1:{closed}: connection refused"


def test_command_probe_runs_in_the_app_env_and_scrubs_its_output(tmp_path: Path) -> None:
    assert command_failure('test "$TOKEN" = ' + SECRET, target(tmp_path, TOKEN=SECRET), 5) is None
    reason = command_failure('echo "token=$TOKEN"; exit 3', target(tmp_path, TOKEN=SECRET), 5)
    assert reason == "command exited with 3: token=***"


def test_command_probe_is_bounded_by_its_timeout(tmp_path: Path) -> None:
    assert command_failure("sleep 30", target(tmp_path), 0.2) == "command timed out after 0.2 s"


def test_the_app_environment_starts_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_PASSWORD", SECRET)
    env = environment(tmp_path, {"PYTHONPATH": "/opt/lib", "LANG": "de_DE.UTF-8"}, 4567,
                      host="10.0.0.5")  # fmt: skip
    assert "PLATFORM_PASSWORD" not in env
    assert env["PYTHONPATH"] == f"{tmp_path}:/opt/lib"
    assert (env["PORT"], env["HOST"]) == ("4567", "10.0.0.5")  # where the platform probes it
    assert env["LANG"] == "de_DE.UTF-8"
    assert "PATH" in env


def test_scrub_leaves_values_too_short_to_be_secrets() -> None:
    assert scrub(f"debug=1 key={SECRET}", ["1", SECRET]) == "debug=1 key=***"
