"""An app's code is copied for its OS user without the platform's state directory, which a
repository holds when `comind up` runs in it with the default `.comind`: copying the state
directory would copy the copy being made into itself until the disk is full (found when
a platform in /tmp/bk filled 5.5 GB in minutes)."""

from __future__ import annotations

import shutil
from pathlib import Path

from comind.apps.accounts import skipping


def test_the_state_directory_inside_the_repo_is_not_copied(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".comind" / "apps" / "ledger" / "code").mkdir(parents=True)
    (repo / "app.py").write_text("print('hi')")
    (repo / "docs" / ".comind").mkdir(parents=True)  # the same name elsewhere is the app's
    shutil.copytree(repo, tmp_path / "copy", symlinks=True, ignore=skipping(repo / ".comind"))
    assert (tmp_path / "copy" / "app.py").read_text() == "print('hi')"
    assert not (tmp_path / "copy" / ".comind").exists()
    assert (tmp_path / "copy" / "docs" / ".comind").is_dir()
