"""The pin `comind promote` writes into an environment's overlay: appended below what the
overlay holds, replaced by the next promotion, never written over an `environments:` a
person wrote (one line says where to put it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from tests.gitrepo import GIT_ENV, git

from comind.errors import UsageError
from comind.platform.promote import MARKER, pinned, promote

A, B = "a" * 40, "b" * 40
PROD = "# Production: longer cache.\napps:\n  orders:\n    cache: {ttl: 900}\n"


def test_the_pin_is_appended_then_replaced() -> None:
    first = pinned(PROD, "prod", A)
    assert first.startswith(PROD) and MARKER in first
    assert yaml.safe_load(first)["environments"] == {"prod": {"revision": A}}
    second = pinned(first, "prod", B)
    assert second == first.replace(A, B)
    assert yaml.safe_load(pinned("", "stage", A)) == {"environments": {"stage": {"revision": A}}}


def test_an_overlay_with_its_own_environments_is_left_to_a_person() -> None:
    with pytest.raises(UsageError, match=r"add `revision: a+` under environments.prod"):
        pinned("environments:\n  prod: {sync: {auto: false}}\n", "prod", A)


def test_a_promotion_is_a_commit_of_the_overlay_only_and_is_pushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in GIT_ENV.items():  # promote's own git commit needs an identity
        monkeypatch.setenv(name, value)
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "comind.yaml").write_text("platform: {name: p}\nenvironments: {dev: {}, prod: {}}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    (repo / "unrelated.txt").write_text("staged, not part of the promotion\n")
    git(repo, "add", "unrelated.txt")
    made = promote(repo, "prod", first[:10], source="dev", push=True)
    assert git(repo, "show", "--name-only", "--format=%s", made).split() == [
        "promote", first[:12], "from", "dev", "to", "prod", "environments/prod.yaml"]  # fmt: skip
    assert git(remote, "rev-parse", "main") == made  # pushed
    assert git(repo, "diff", "--cached", "--name-only") == "unrelated.txt"  # left staged
    with pytest.raises(UsageError, match="is no commit of this repository"):
        promote(repo, "prod", "0" * 40, source="dev")
    with pytest.raises(UsageError, match="'qa' is not declared"):
        promote(repo, "qa", first, source="dev")
