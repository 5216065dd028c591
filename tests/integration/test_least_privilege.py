"""Least privilege on the machine: an app runs as an OS user of its own and cannot read the
state directory; everything in the state directory is private; no directory above it is
opened by the platform.

One platform follows a Git repository (as `comind up` does, so the code runs from a
checkout inside the state directory) with two hostile apps: ``snoop``, whose ``run`` tries
to read the platform's secrets and writes what happened into its HOME, and ``prober``, whose
health command tries the same.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from tests.platforms import make_settings
from tests.waiting import wait_until

from comind.embedded.home import CROSSED
from comind.embedded.osuser import REDIS_USER, SERVICE_USER, app_user_name, state_group
from comind.gitops.source import GitSource
from comind.platform import Platform
from comind.spec import load_spec

ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0, reason="apps get OS users of their own only from a platform running as "
    "root (tests run as root here and in CI)")  # fmt: skip
SECRETS = ("secrets/api-admin-token", "secrets/postgres-password", "secrets/redis-password",
           "state.json", "redis/redis.conf", "logs/comind.jsonl")  # fmt: skip
SNOOP = """\
report() { echo "REPORT $*"; }
report "uid $(id -u)"
for f in FILES; do
  err=$(cat "$COMIND_HOME/$f" 2>&1 >/dev/null) && report "read $f" || report "$err"
done
ls "$COMIND_HOME" >/dev/null 2>&1 && report "listed the state directory"
grep -q snoop snoop.sh && report "read its own code"
touch "$HOME/mine" && report "wrote its HOME"
report done
exec sleep 600
""".replace("FILES", " ".join(SECRETS))
SPEC = """\
platform: {{name: least}}
environments: {{dev: {{}}}}
apps:
  snoop:
    run: sh snoop.sh
    env: {{COMIND_HOME: "{home}"}}
  prober:
    run: exec sleep 600
    env: {{COMIND_HOME: "{home}"}}
    health: {{command: "{probe}", period: 1}}
"""
PROBE = "(id -u; cat $COMIND_HOME/secrets/api-admin-token) > $HOME/probe 2>&1; true"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


@dataclass(frozen=True)
class Started:
    run: Platform
    home: Path
    ancestors: dict[Path, int]  # the mode of every directory above the state directory


def _modes(home: Path) -> dict[Path, int]:
    return {parent: parent.stat().st_mode for parent in home.parents}


@pytest.fixture(scope="module")
def started(engine_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    repo = tmp_path_factory.mktemp("least-repo")
    home = _behind_a_closed_parent(engine_root / "least-parent") / "least"
    ancestors = _modes(home)
    (repo / "comind.yaml").write_text(SPEC.format(home=home, probe=PROBE))
    (repo / "snoop.sh").write_text(SNOOP)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snoop"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                       env={**os.environ, **GIT_ENV})  # fmt: skip
    source = GitSource(str(repo), ref="main", workdir=home / "git")
    spec = load_spec(source.checkout(source.fetch()), env="dev")
    run = Platform(make_settings(home), about={"platform": "least"}, spec=spec, source=source,
                   env="dev")  # fmt: skip
    run.start()
    try:
        yield Started(run, home, ancestors)
    finally:
        run.stop()


def _behind_a_closed_parent(parent: Path) -> Path:
    """A directory others may not cross; as root the platform's users may, through the
    group ``comind`` (as an operator would allow it), so the platform must not open it."""
    parent.mkdir(mode=0o700)
    group = state_group()
    if group is not None:
        os.chown(parent, -1, group)
        parent.chmod(0o710)
    return parent


def _report(started: Started) -> list[str]:
    """What the snoop app printed (through its log, where the platform puts its output)."""
    log = started.home / "logs" / "apps" / "snoop.log"

    def lines() -> list[str]:
        text = log.read_text() if log.exists() else ""
        return [line.partition(" REPORT ")[2] for line in text.splitlines() if " REPORT " in line]

    assert wait_until(lambda: "done" in lines(), timeout=60), "the snoop app never reported"
    return lines()[:-1]


@ROOT_ONLY
def test_an_app_runs_as_its_own_user_and_cannot_read_the_state_directory(
    started: Started,
) -> None:
    uid = pwd.getpwnam(app_user_name("snoop", (started.home / "apps").resolve())).pw_uid
    lines = _report(started)
    assert lines[0] == f"uid {uid}"
    denied = lines[1 : 1 + len(SECRETS)]
    assert all("Permission denied" in line for line in denied), denied
    assert lines[1 + len(SECRETS) :] == ["read its own code", "wrote its HOME"]
    state = started.run.apps.state("snoop") if started.run.apps else None
    assert state is not None and state.pid is not None
    assert psutil.Process(state.pid).uids().real == uid


@ROOT_ONLY
def test_a_health_command_runs_as_the_app_and_cannot_read_secrets(started: Started) -> None:
    said = started.home / "apps" / "prober" / "home" / "probe"
    assert wait_until(said.exists, timeout=60), "the prober's health command never ran"
    uid, denied = said.read_text().splitlines()
    apps = (started.home / "apps").resolve()
    assert uid == str(pwd.getpwnam(app_user_name("prober", apps)).pw_uid)
    assert "Permission denied" in denied


def test_nothing_in_the_state_directory_is_open_to_others(started: Started) -> None:
    """Files 0600 and directories 0700, but the directories others must cross (0710,
    group ``comind``, as root) and what root keeps for one app under ``apps/APP/`` (its
    group's alone); sockets and all. Checked once apps, logs and engines wrote."""
    _report(started) if os.geteuid() == 0 else None
    crossed = {started.home / name for name in CROSSED}
    group, apps = state_group(), started.home / "apps"
    opened = []
    for top, dirs, files in os.walk(started.home):
        for path in [Path(top) / name for name in (*dirs, *files)] + [Path(top)]:
            try:
                info = path.lstat()
            except FileNotFoundError:  # PostgreSQL replaces files as it goes (pg_internal.init)
                continue
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                continue
            if path in crossed and group is not None:
                allowed = mode == 0o710 and info.st_gid == group
            elif apps in path.parents and mode & 0o027 == 0 and mode & 0o070:
                allowed = _own_group(info.st_gid)  # root's, crossed or read by the app alone
            else:
                allowed = mode & 0o077 == 0
            if not allowed:
                opened.append(f"{path} {mode:o}")
    assert not opened


def _own_group(gid: int) -> bool:
    """An app's (or a flow's) own group: its user is the only member."""
    import grp

    name = grp.getgrgid(gid).gr_name
    return name.startswith("comind-") and name != REDIS_USER and not grp.getgrgid(gid).gr_mem


def test_no_directory_above_the_state_directory_was_opened(started: Started) -> None:
    assert _modes(started.home) == started.ancestors


@ROOT_ONLY
def test_the_engines_run_as_their_own_users_never_root(started: Started) -> None:
    """PostgreSQL as ``comind``, Redis as ``comind-redis`` (it ran as root: an escape from
    the Lua an app may run in it would have been root on the host — red team, issue 17)."""
    engines = started.run.engines
    users = {e.name: psutil.Process(e.pid).username() for e in (engines.postgres, engines.redis)
             if e.pid is not None}  # fmt: skip
    assert users == {"postgres": SERVICE_USER, "redis": REDIS_USER}
