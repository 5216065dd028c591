"""``comind bucket ...``: a versioned bucket's versions, and the restore of one as the
current version (operator of the bucket's app, audited), through the API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json

bucket_cli = typer.Typer(help="Versioned buckets: list versions, restore one.",
                         no_args_is_help=True)  # fmt: skip
Bucket = Annotated[str, typer.Argument(help="A bucket of the applied spec.")]


@bucket_cli.command("versions")
def versions(
    ctx: typer.Context,
    bucket: Bucket,
    prefix: Annotated[str, typer.Option(help="Only keys starting with it.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Every version and delete marker of the bucket's keys: by key, newest first."""
    doc = call(ctx, "GET", f"/api/v1/buckets/{quote(bucket, safe='')}/versions",
               params={"prefix": prefix, "limit": limit}, admin=True)  # fmt: skip
    if as_json:
        emit_json(doc)
        return
    table = Table("key", "version", "", "size", "written")
    for v in doc["versions"]:
        what = "delete marker" if v["delete_marker"] else ""
        what += " (current)" if v["latest"] else ""
        table.add_row(v["key"], v["version_id"], what.strip(), str(v["size"]), v["modified"])
    console.print(table)
    if doc["truncated"]:
        console.print(f"more versions than {limit}: narrow with --prefix or raise --limit")


@bucket_cli.command("restore")
def restore(
    ctx: typer.Context,
    bucket: Bucket,
    key: Annotated[str, typer.Argument(help="The object's key.")],
    version: Annotated[str, typer.Option("--version", help="The version id to bring back.")],
    as_json: JsonOpt = False,
) -> None:
    """Make a copy of one version the key's current version (the versions in between stay)."""
    done = call(ctx, "POST", f"/api/v1/buckets/{quote(bucket, safe='')}/restore",
                body={"key": key, "version_id": version}, admin=True)  # fmt: skip
    if as_json:
        emit_json(done)
        return
    console.print(f"{bucket}/{key}: version {version} restored as {done['version_id']}")
