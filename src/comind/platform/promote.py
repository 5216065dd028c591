"""Promotion through Git: pin an environment to a commit in its overlay
(``environments/<env>.yaml``: ``environments.<env>.revision``) and commit that change, so a
promotion is itself a reviewed, revertible commit the target environment then syncs (and
``comind history`` shows as pinned). Works on a local Git work tree of the platform's
repository; the push, when asked, goes to its upstream."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from comind.errors import ComindError, UsageError
from comind.spec import SpecError, load_spec
from comind.spec.loading import OVERLAY_DIR

MARKER = "# comind promote: the commit this environment runs"
_PINNED = re.compile(r"^([ ]+revision:[ ]*)[0-9a-f]{7,64}[ \t]*$", re.MULTILINE)


def promote(repo: Path, to_env: str, commit: str, *, source: str, push: bool = False) -> str:
    """Pin ``to_env`` to ``commit`` in ``repo`` and commit only that file; the new commit's
    SHA. ``source`` says where the commit comes from (for the message)."""
    sha = _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    try:
        declared = load_spec(repo).environments
    except SpecError as exc:
        raise UsageError(f"{repo}: its spec is not valid: {exc}") from None
    if to_env not in declared:
        raise UsageError(f"environment {to_env!r} is not declared in {repo}/comind.yaml "
                         f"(declared: {', '.join(declared) or 'none'})")  # fmt: skip
    overlay = repo / OVERLAY_DIR / f"{to_env}.yaml"
    overlay.parent.mkdir(exist_ok=True)
    overlay.write_text(pinned(overlay.read_text() if overlay.exists() else "", to_env, sha))
    relative = str(overlay.relative_to(repo))
    _git(repo, "add", "--", relative)
    _git(repo, "commit", "-q", "-m", f"promote {sha[:12]} from {source} to {to_env}",
         "--", relative)  # fmt: skip
    if push:
        _git(repo, "push", "-q")
    return _git(repo, "rev-parse", "HEAD")


def pinned(text: str, env: str, sha: str) -> str:
    """The overlay ``text`` with ``env`` pinned to ``sha``: the pin promote wrote before is
    replaced, else a block is appended (an overlay that sets ``environments:`` itself is
    left to a person: one line says where)."""
    if MARKER in text:
        return _PINNED.sub(lambda m: m.group(1) + sha, text, count=1)
    if re.search(r"^environments\s*:", text, re.MULTILINE):
        raise UsageError(f"environments/{env}.yaml sets environments: itself; add "
                         f"`revision: {sha}` under environments.{env} there")  # fmt: skip
    block = f"{MARKER}\nenvironments:\n  {env}:\n    revision: {sha}\n"
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=False, timeout=120)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ComindError(f"git {args[0]} in {repo}: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip() or "failed").splitlines()[-1]
        if args[0] == "rev-parse" and "--verify" in args:
            why = f"{args[-1].removesuffix('^{commit}')} is no commit of this repository"
        raise UsageError(f"git {args[0]} in {repo}: {why}")
    return done.stdout.strip()
