"""Following a Git repository with real ``git``, on local repositories in a tmp dir.

Needs no engine: no fixture from this folder's conftest is requested.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.githttp import git_http_server

from comind.gitops.git import GitError, git_env, redact_url, split_login
from comind.gitops.source import GitSource


class Origin:
    """A repository standing for the remote, with ``deploy/comind.yaml``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "origin"
        self.env = {
            **os.environ,
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Ada Lovelace",
            "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada Lovelace",
            "GIT_COMMITTER_EMAIL": "ada@example.com",
        }
        self.dir.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.dir, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def commit(self, content: str, *flags: str, message: str = "change") -> str:
        (self.dir / "deploy").mkdir(exist_ok=True)
        (self.dir / "deploy" / "comind.yaml").write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, *flags)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    repo = Origin(tmp_path)
    repo.commit("version: 1\n", message="first")
    repo.commit("version: 2\n", message="second")
    return repo


@pytest.fixture
def source(origin: Origin, tmp_path: Path) -> GitSource:
    return GitSource(str(origin.dir), path="deploy", workdir=tmp_path / "work")


def read(path: Path) -> str:
    return (path / "comind.yaml").read_text()


def test_fetch_returns_the_head_sha(source: GitSource, origin: Origin) -> None:
    assert source.fetch() == origin.git("rev-parse", "HEAD")


def test_a_new_commit_is_seen_by_the_next_fetch(source: GitSource, origin: Origin) -> None:
    source.fetch()
    new = origin.commit("version: 3\n")
    assert source.fetch() == new


def test_a_relative_local_path_is_followed(
    origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = GitSource("origin", workdir=tmp_path / "work")
    assert source.fetch() == origin.git("rev-parse", "HEAD")


def test_the_clone_keeps_no_remote_url(source: GitSource, tmp_path: Path) -> None:
    source.fetch()
    assert "origin" not in (tmp_path / "work" / "repo.git" / "config").read_text()


@pytest.mark.parametrize("annotated", [False, True])
def test_a_tag_is_followed(origin: Origin, tmp_path: Path, annotated: bool) -> None:
    first = origin.git("rev-parse", "HEAD~1")
    origin.git("tag", *(["-a", "-m", "release"] if annotated else []), "v1", first)
    source = GitSource(str(origin.dir), ref="v1", workdir=tmp_path / "work")
    assert source.fetch() == first
    origin.git("tag", "-f", *(["-a", "-m", "moved"] if annotated else []), "v1", "HEAD")
    assert source.fetch() == origin.git("rev-parse", "HEAD")


def test_a_full_ref_name_is_followed(origin: Origin, tmp_path: Path) -> None:
    source = GitSource(str(origin.dir), ref="refs/heads/main", workdir=tmp_path / "work")
    assert source.fetch() == origin.git("rev-parse", "HEAD")
    with pytest.raises(GitError, match="neither a branch nor a tag"):
        GitSource(str(origin.dir), ref="refs/pull/1/head", workdir=tmp_path / "work")


def test_checkout_materializes_that_exact_revision(source: GitSource, origin: Origin) -> None:
    head = source.fetch()
    old = origin.git("rev-parse", "HEAD~1")
    assert read(source.checkout(head)) == "version: 2\n"
    older = source.checkout(old)
    assert read(older) == "version: 1\n"
    assert older == source.workdir / "revisions" / old / "deploy"


def test_checkout_accepts_a_branch_or_short_sha(source: GitSource) -> None:
    head = source.fetch()
    assert source.checkout("main") == source.checkout(head[:8])
    assert source.checkout("main").parent.name == head


def test_checkout_without_sub_path_is_the_whole_tree(origin: Origin, tmp_path: Path) -> None:
    source = GitSource(str(origin.dir), workdir=tmp_path / "work")
    head = source.fetch()
    tree = source.checkout(head)
    assert tree == source.workdir / "revisions" / head
    assert read(tree / "deploy") == "version: 2\n"


def test_checkout_is_idempotent(source: GitSource) -> None:
    head = source.fetch()
    first = source.checkout(head)
    (first / "marker").write_text("still here")
    assert source.checkout(head) == first
    assert (first / "marker").read_text() == "still here"
    assert sorted(p.name for p in (source.workdir / "revisions").iterdir()) == [head]


def test_old_revisions_are_pruned_to_keep(origin: Origin, tmp_path: Path) -> None:
    source = GitSource(str(origin.dir), path="deploy", workdir=tmp_path / "work", keep=2)
    shas = [origin.commit(f"version: {n}\n") for n in range(10, 15)]
    source.fetch()
    for sha in shas:
        source.checkout(sha)
        time.sleep(0.01)
    kept = {p.name for p in (source.workdir / "revisions").iterdir()}
    assert kept == set(shas[-3:])
    source.checkout(shas[0])
    kept = {p.name for p in (source.workdir / "revisions").iterdir()}
    assert kept == {shas[0], *shas[-2:]}


def test_a_force_push_is_followed(source: GitSource, origin: Origin) -> None:
    source.fetch()
    origin.git("reset", "-q", "--hard", "HEAD~1")
    rewritten = origin.commit("version: rewritten\n", message="rewritten")
    assert source.fetch() == rewritten
    assert read(source.checkout(rewritten)) == "version: rewritten\n"
    assert [c.subject for c in source.history()] == ["rewritten", "first"]


def test_deleted_branches_are_pruned(source: GitSource, origin: Origin) -> None:
    origin.git("branch", "feature")
    source.fetch()
    assert source.resolve("feature") == origin.git("rev-parse", "HEAD")
    origin.git("branch", "-D", "feature")
    source.fetch()
    with pytest.raises(GitError, match="unknown revision 'feature'"):
        source.resolve("feature")


def test_commit_metadata_and_signed_off_trailer(source: GitSource, origin: Origin) -> None:
    sha = origin.commit(
        "version: 3\n", "-s", message="Deploy shop\n\nBody text.\n\nReviewed-by: Bob <b@x.org>"
    )
    source.fetch()
    commit = source.commit(sha)
    assert (commit.sha, commit.author, commit.email) == (sha, "Ada Lovelace", "ada@example.com")
    assert sha.startswith(commit.short)
    assert commit.subject == "Deploy shop"
    assert commit.message.startswith("Deploy shop\n\nBody text.")
    assert commit.trailers == {
        "Reviewed-by": ["Bob <b@x.org>"],
        "Signed-off-by": ["Ada Lovelace <ada@example.com>"],
    }
    assert commit.signed_off
    assert commit.committed_at.tzinfo == UTC
    assert abs((datetime.now(UTC) - commit.committed_at).total_seconds()) < 600
    assert not source.commit("main~1").signed_off


def test_describe_feeds_the_sync_gate(origin: Origin, tmp_path: Path) -> None:
    url = f"file://{origin.dir}"
    source = GitSource(url, path="deploy", workdir=tmp_path / "work")
    signed = origin.commit("version: 3\n", "-s", message="signed")
    source.fetch()
    facts = source.describe("main")
    assert facts["revision"] == signed
    assert facts["signed_off"] is True
    assert facts["subject"] == "signed"
    assert facts["source"] == url
    assert (facts["ref"], facts["path"]) == ("main", "deploy")
    assert source.describe("main~1")["signed_off"] is False


def test_history_is_newest_first(source: GitSource, origin: Origin) -> None:
    source.fetch()
    history = source.history()
    assert [c.subject for c in history] == ["second", "first"]
    assert history[0].sha == origin.git("rev-parse", "HEAD")
    assert [c.subject for c in source.history(limit=1)] == ["second"]


def test_resolve(source: GitSource, origin: Origin) -> None:
    head = source.fetch()
    origin.git("tag", "v2")
    source.fetch()
    assert source.resolve(head) == source.resolve(head[:7]) == head
    assert source.resolve("main") == source.resolve("v2") == head
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        source.resolve("nope")
    with pytest.raises(GitError, match="invalid git revision"):
        source.resolve("--output=/tmp/x")


def test_unknown_ref_names_the_ref_and_repository(origin: Origin, tmp_path: Path) -> None:
    source = GitSource(str(origin.dir), ref="release", workdir=tmp_path / "work")
    with pytest.raises(GitError) as caught:
        source.fetch()
    assert "'release'" in str(caught.value)
    assert str(origin.dir) in str(caught.value)


def test_missing_sub_path_is_an_error(origin: Origin, tmp_path: Path) -> None:
    source = GitSource(str(origin.dir), path="nowhere", workdir=tmp_path / "work")
    with pytest.raises(GitError, match="path 'nowhere' is not a directory"):
        source.checkout(source.fetch())


def test_sub_path_escaping_the_tree_is_refused(origin: Origin, tmp_path: Path) -> None:
    (origin.dir / "escape").symlink_to("/")
    origin.git("add", "escape")
    origin.git("commit", "-q", "-m", "symlink")
    source = GitSource(str(origin.dir), path="escape/tmp", workdir=tmp_path / "work")
    with pytest.raises(GitError, match="not a directory"):
        source.checkout(source.fetch())
    with pytest.raises(GitError, match="invalid repository sub-path"):
        GitSource(str(origin.dir), path="../x", workdir=tmp_path / "work")


def test_nothing_is_read_before_the_first_fetch(source: GitSource) -> None:
    with pytest.raises(GitError, match="not been fetched yet"):
        source.history()


def test_a_missing_repository_is_one_line_from_git(tmp_path: Path) -> None:
    source = GitSource(str(tmp_path / "absent"), workdir=tmp_path / "work")
    with pytest.raises(GitError) as caught:
        source.fetch()
    message = str(caught.value)
    assert message.startswith("git clone failed for ")
    assert "\n" not in message
    assert "does not exist" in message
    assert not (tmp_path / "work" / "repo.git").exists()


def test_credentials_never_appear_in_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://user:s3cret@127.0.0.1:1/x.git"
    source = GitSource(url, workdir=tmp_path / "work", timeout=30)
    with pytest.raises(GitError) as caught:
        source.fetch()
    assert "s3cret" not in str(caught.value)
    assert "https://user:***@127.0.0.1:1/x.git" in str(caught.value)
    assert "s3cret" not in caplog.text
    assert source.display_url == "https://user:***@127.0.0.1:1/x.git"


def test_redact_url() -> None:
    text = "clone https://ghp_TOKEN@github.com/a.git and http://u:p%40ss@h/x, ssh://git@h/y"
    assert redact_url(text) == (
        "clone https://***@github.com/a.git and http://u:***@h/x, ssh://git@h/y"
    )
    assert redact_url("git@github.com:acme/shop.git") == "git@github.com:acme/shop.git"
    assert redact_url("https://github.com/acme/a@b.git") == "https://github.com/acme/a@b.git"


TOKEN = "s3cr3t-tok3n-4711"


def test_an_authenticated_fetch_keeps_the_token_off_every_command_line(
    origin: Origin, tmp_path: Path
) -> None:
    """The login reaches git through its environment: while git clones and fetches over
    HTTP, no process on the machine shows the token in its command line."""
    with git_http_server(tmp_path, f"ci-bot:{TOKEN}") as (host, seen):
        source = GitSource(f"http://ci-bot:{TOKEN}@{host}/origin", workdir=tmp_path / "work")
        assert source.fetch() == origin.git("rev-parse", "HEAD")
        newer = origin.commit("version: 3\n")
        assert source.fetch() == newer
        assert read(source.checkout(newer) / "deploy") == "version: 3\n"
    assert 200 in seen.statuses
    assert any("remote-http" in line and host in line for line in seen.cmdlines)
    assert not any(TOKEN in line for line in seen.cmdlines)  # no secret in the failure text


def test_a_token_as_username_is_the_login_too(origin: Origin, tmp_path: Path) -> None:
    with git_http_server(tmp_path, f"{TOKEN}:") as (host, seen):
        source = GitSource(f"http://{TOKEN}@{host}/origin", workdir=tmp_path / "work")
        assert source.fetch() == origin.git("rev-parse", "HEAD")
    assert not any(TOKEN in line for line in seen.cmdlines)  # no secret in the failure text


def test_a_wrong_password_is_one_line_without_it(origin: Origin, tmp_path: Path) -> None:
    with git_http_server(tmp_path, f"ci-bot:{TOKEN}") as (host, seen):
        source = GitSource(f"http://ci-bot:wr0ng-pass@{host}/origin", workdir=tmp_path / "work")
        with pytest.raises(GitError, match="Authentication failed") as caught:
            source.fetch()
    assert "wr0ng-pass" not in str(caught.value)
    assert seen.statuses and set(seen.statuses) == {401}


def test_split_login() -> None:
    bare, login = split_login("https://u:p%40ss@h:8443/x.git")
    assert bare == "https://h:8443/x.git"
    assert login is not None and (login.username, login.password) == ("u", "p@ss")
    assert "p@ss" not in repr(login)
    assert split_login("ssh://git:pw@h/y.git") == ("ssh://git@h/y.git", None)
    assert split_login("git@github.com:acme/shop.git") == ("git@github.com:acme/shop.git", None)
    assert split_login("https://github.com/acme/a.git") == ("https://github.com/acme/a.git", None)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_hanging_remote_times_out(silent_server: int, tmp_path: Path) -> None:
    url = f"http://tok3n-value@127.0.0.1:{silent_server}/x.git"
    source = GitSource(url, workdir=tmp_path / "work", timeout=1)
    started = time.monotonic()
    with pytest.raises(GitError, match="timed out after 1s") as caught:
        source.fetch()
    assert time.monotonic() - started < 10
    assert "tok3n-value" not in str(caught.value)


def test_concurrent_fetches_do_not_corrupt(source: GitSource, origin: Origin) -> None:
    source.fetch()
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                results.append(source.fetch())
                source.checkout(results[-1])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for n in range(3):
        origin.commit(f"version: concurrent {n}\n")
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(results) == 10
    head = origin.git("rev-parse", "HEAD")
    assert source.fetch() == head
    repo = source.workdir / "repo.git"
    subprocess.run(["git", f"--git-dir={repo}", "fsck", "--strict"], check=True, env=origin.env)
    assert read(source.checkout(head)) == "version: concurrent 2\n"


def test_git_never_sees_the_platforms_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """COMIND_* hold engine URLs with passwords and passphrases: git and its helpers get none."""
    monkeypatch.setenv("COMIND_POSTGRES_URL", "postgresql://postgres:s3cret@db/postgres")
    monkeypatch.setenv("COMIND_KEK_PASSPHRASE", "correct horse")
    env = git_env(tmp_path)
    assert not [k for k in env if k.startswith("COMIND_")]
    assert env["GIT_TERMINAL_PROMPT"] == "0" and "PATH" in env
