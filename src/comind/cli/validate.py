"""``comind validate``: check a platform repository's spec without changing anything."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from comind.cli.output import JsonOpt, console, emit_json


def validate(
    path: Annotated[Path, typer.Argument(help="Platform repo or its comind.yaml.")] = Path("."),
    env: Annotated[str | None, typer.Option(help="Environment overlay to apply.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate comind.yaml (and an environment overlay); exit 2 listing every error."""
    from comind.platform import repo as repos  # the spec's checks: this command only

    try:
        spec = repos.load(path, env)
    except repos.SpecInvalid as exc:
        if not as_json:
            raise
        errors = [{**asdict(issue), "file": str(issue.file)} for issue in exc.issues]
        emit_json({"valid": False, "errors": errors})
        raise typer.Exit(exc.exit_code) from None
    summary = {
        "valid": True,
        "platform": spec.platform.name,
        "env": env,
        "apps": len(spec.apps),
        "topics": len(spec.topics),
        "datasets": len(spec.datasets),
        "flows": len(spec.flows),
        "alerts": len(spec.alerts),
    }
    if as_json:
        emit_json(summary)
        return
    counts = ", ".join(
        f"{summary[k]} {k}" for k in ("apps", "topics", "datasets", "flows", "alerts")
    )
    console.print(f"[green]valid[/]: platform {spec.platform.name} ({counts})")
