"""``comind promote --from ENV --to ENV [--commit SHA] [--repo PATH] [--push]``: pin the
target environment to a commit in its overlay, as a Git commit of the platform's repository
(local work tree); without ``--commit``, the revision the running platform last deployed to
``--from`` (through the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError

Commit = Annotated[str | None, typer.Option(help="The commit (default: what --from runs).")]
Repo = Annotated[Path, typer.Option(help="A Git work tree of the platform's repository.")]


def promote(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", help="The environment promoted from.")],
    target: Annotated[str, typer.Option("--to", help="The environment to pin.")],
    commit: Commit = None,
    repo: Repo = Path("."),
    push: Annotated[bool, typer.Option(help="Push the commit to its upstream.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Promote a commit to an environment through Git: it syncs what the commit pins."""
    from comind.platform.promote import promote as pin

    chosen = commit or _deployed(ctx, source)
    made = pin(repo, target, chosen, source=source, push=push)
    if as_json:
        emit_json({"commit": made, "pinned": chosen, "env": target, "pushed": push})
        return
    console.print(f"{target} pinned to {chosen[:12]} in commit {made[:12]}"
                  + (" (pushed)" if push else "; push it for the platform to see it"))  # fmt: skip


def _deployed(ctx: typer.Context, env: str) -> str:
    """The revision the platform last deployed to ``env``."""
    found = call(ctx, "GET", "/api/v1/deployments", params={"env": env, "limit": 50})
    good = [d for d in found["deployments"] if d["outcome"] == "Succeeded"]
    if not good:
        raise UsageError(f"the platform has deployed nothing to {env}: give --commit")
    return str(good[0]["revision"])
