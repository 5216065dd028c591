"""An app's (or a flow's) account directory, as root makes it (red team 21f H0): the app's
user could swap its ``code`` (or ``home``) for a symlink, and root then chmodded the link's
target, copied into it and emptied it. Now root only works in directories of its own, so
the user cannot put a link where root looks, and what an older layout let it plant is
removed without being followed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from tests.waiting import wait_until

from comind.apps.accounts import AppAccounts
from comind.apps.model import AppSpec
from comind.apps.runtime import AppRuntime
from comind.embedded.home import StateDir
from comind.embedded.osuser import app_user, app_user_name
from comind.errors import ComindError
from comind.platform import Platform

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="app users need root")


@pytest.fixture
def home(runtime: Platform) -> Iterator[StateDir]:  # runtime: the comind group exists
    top = Path(tempfile.mkdtemp(prefix="comind-accounts-", dir="/tmp"))
    top.chmod(0o711)  # app users cross it, as they cross a real state directory's parent
    state = StateDir(top / "home")
    state.create()
    yield state
    shutil.rmtree(top)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory of root's that the app's user must never get root to touch."""
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "sub" / "keep.txt").write_text("root's")
    victim.chmod(0o755)
    return victim


def _spec(repo: Path, **env: str) -> AppSpec:
    return AppSpec(name="flow.t.0", command="true", cwd=repo, env=env, revision="r1" * 16,
                   account="flow.t")  # fmt: skip


def _intact(victim: Path) -> bool:
    return (stat.S_IMODE(victim.stat().st_mode) == 0o755
            and (victim / "sub" / "keep.txt").read_text() == "root's")  # fmt: skip


def test_the_user_cannot_replace_what_root_works_in(home: StateDir, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "step.py").write_text("x = 1\n")
    account = AppAccounts(home.apps).open(_spec(repo))
    own = home.apps / "flow.t"
    for path, uid, mode in ((own, 0, 0o710), (own / "code", 0, 0o710),
                            (account.home, account.user.uid, 0o700)):  # fmt: skip
        info = path.lstat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (uid, mode), path
    assert account.code.parent == own / "code" and (account.code / "step.py").exists()
    moved = subprocess.run(["mv", str(own / "code"), str(own / "gone")], capture_output=True,
                           user=account.user.uid, group=account.user.gid)  # fmt: skip
    assert moved.returncode != 0 and (own / "code").is_dir()


def test_links_an_older_layout_let_the_user_plant_are_removed_unfollowed(
    home: StateDir, tmp_path: Path, victim: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    ca = tmp_path / "root.crt"
    ca.write_text("CERT")
    own = home.apps / "flow.t"
    user = app_user("flow.t", home.apps.resolve())
    own.mkdir()  # the older layout: the account's directory was the app's
    os.chown(own, user.uid or 0, user.gid or 0)
    (own / "code").symlink_to(victim)
    (own / "home").symlink_to(victim)
    (own / "ca").symlink_to(victim)
    account = AppAccounts(home.apps).open(_spec(repo, PGSSLROOTCERT=str(ca)))
    assert _intact(victim) and not (victim / "root.crt").exists()
    assert not account.home.is_symlink() and account.home.is_dir()
    assert Path(account.env["PGSSLROOTCERT"]).read_text() == "CERT"
    assert Path(account.env["PGSSLROOTCERT"]).parent == own / "ca"


def test_a_system_user_of_another_account_is_refused(home: StateDir) -> None:
    """Red team 21f H7: two accounts whose names map to one OS user would share its
    processes' environments; a user notes its account, and another account is refused."""
    apps = home.apps.resolve()
    name = app_user_name("flow.q", apps)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run([useradd, "--system", "--no-create-home", "--comment", "comind other 000000",
                    name], check=True)  # fmt: skip
    with pytest.raises(ComindError, match="belongs to another account"):
        app_user("flow.q", apps)


DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(120)  # a daemon in a session of its own, as a job's code may leave one
    os._exit(0)
print("{}")
"""


def test_what_a_job_leaves_running_is_killed_when_it_ends(home: StateDir, tmp_path: Path) -> None:
    """Red team 21f H5: a job's daemon outlived the job, the flow's workers, the flow's
    deletion and `comind down`, with the flow's logins."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "job.py").write_text(DAEMON)
    runtime = AppRuntime(tmp_path / "logs", accounts=AppAccounts(home.apps))
    spec = AppSpec(name="flow.t.job", command=f"{sys.executable} job.py", cwd=repo, env={},
                   revision="r2" * 16, account="flow.t")  # fmt: skip
    done = runtime.run_once(spec, b"", timeout=30)
    assert done.code == 0
    uid = runtime.accounts.users["flow.t"] if runtime.accounts else -1
    left = [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid]
    assert wait_until(lambda: not [p for p in left if p.is_running()], timeout=5), left
