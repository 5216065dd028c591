"""``comind artifact ...``: push a build's output to the platform's registry (stored once per
content), list versions, show one, pull its bytes, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from comind.cli.api_client import call, download, upload
from comind.cli.output import JsonOpt, console, emit_json

artifact_cli = typer.Typer(help="The artifact registry: push, ls, show, pull.",
                           no_args_is_help=True)  # fmt: skip
Name = Annotated[str, typer.Argument(help="The artifact's name (a-z 0-9 . _ -).")]
Version = Annotated[str, typer.Argument(help="Its version (never changes once pushed).")]
File = Annotated[Path, typer.Argument(help="The file to push.", exists=True, dir_okay=False)]
Commit = Annotated[str | None, typer.Option(help="The commit it was built from.")]
Oci = Annotated[str | None, typer.Option("--oci", help="An OCI image by digest: "
                                                      "REPO@sha256:<hex>.")]  # fmt: skip


def where(name: str, version: str) -> str:
    return f"/api/v1/artifacts/{quote(name, safe='')}/{quote(version, safe='')}"


def push_file(ctx: typer.Context, name: str, version: str, file: Path,
              extra: dict[str, Any]) -> Any:  # fmt: skip
    """``file`` pushed as ``name@version`` (``extra``: commit, build, oci)."""
    params = {k: v for k, v in extra.items() if v}
    return upload(ctx, where(name, version), file, params)


@artifact_cli.command("push")
def push(
    ctx: typer.Context,
    name: Name,
    version: Version,
    file: File,
    commit: Commit = None,
    build: Annotated[str | None, typer.Option(help="The CI build or run id.")] = None,
    oci: Oci = None,
    as_json: JsonOpt = False,
) -> None:
    """Push FILE as NAME VERSION; the same bytes already held are not stored again."""
    done = push_file(ctx, name, version, file, {"commit": commit, "build": build, "oci": oci})
    if as_json:
        emit_json(done)
        return
    how = "stored" if done["stored"] else "already held: stored once"
    console.print(f"{name}@{version}: {done['digest']} ({done['size']} bytes, {how})")


@artifact_cli.command("ls")
def ls(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Only this artifact's versions.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Versions, newest first; `deployed`: built from a revision an environment runs."""
    params: dict[str, Any] = {"limit": limit, **({"name": name} if name else {})}
    found = call(ctx, "GET", "/api/v1/artifacts", params=params)["artifacts"]
    if as_json:
        emit_json(found)
        return
    table = Table("name", "version", "digest", "size", "commit", "deployed", "pushed")
    for a in found:
        table.add_row(a["name"], a["version"], a["digest"][:19], str(a["size"]),
                      (a["commit"] or "")[:12], "yes" if a["deployed"] else "",
                      a["created_at"][:19])  # fmt: skip
    console.print(table)


@artifact_cli.command("pull")
def pull(
    ctx: typer.Context,
    name: Name,
    version: Version,
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write it.")],
) -> None:
    """Write NAME VERSION's bytes to --out."""
    size = download(ctx, f"{where(name, version)}/blob", out)
    console.print(f"{name}@{version}: {size} bytes written to {out}")
