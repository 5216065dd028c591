"""``comind dr restore``: a platform rebuilt on a new machine from a copy of its backup store
and its exported keys (see backup.dr)."""

from __future__ import annotations

import getpass
import os
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from comind.cli.connect import home_of, settings_of
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError

dr_cli = typer.Typer(help="Disaster recovery.", no_args_is_help=True)
PASSPHRASE_ENV = "COMIND_KEYS_PASSPHRASE"


def passphrase(prompt: str = "passphrase: ") -> str:
    """From COMIND_KEYS_PASSPHRASE (automation), else asked without echo."""
    return os.environ.get(PASSPHRASE_ENV) or getpass.getpass(prompt)


@dr_cli.command("restore")
def restore(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="A copy of the backup store: a directory, or s3://BUCKET/PREFIX (on "
            "COMIND_S3_ENDPOINT, else AWS; credentials from the AWS_* variables).",
        ),
    ],
    keys: Annotated[Path, typer.Option(help="The file `comind keys export` wrote.")],
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the platform into an empty state directory (--home): secrets, PostgreSQL to
    the last archived WAL, buckets and Redis; then `comind up --repo` re-syncs from Git."""
    if "://" in source and not source.startswith("s3://"):
        raise UsageError(f"--from {source}: a directory or s3://BUCKET/PREFIX")
    if not keys.is_file():
        raise UsageError(f"--keys {keys}: no such file")
    home = home_of(ctx)
    from comind.platform.recovery import rebuild  # the backup code: this command only

    with console.status("rebuilding") if not as_json else nullcontext() as status:
        done = rebuild(
            source,
            home,
            settings_of(ctx),
            keys.read_bytes(),
            passphrase(),
            step=lambda s: status.update(s) if status else None,
        )
    if as_json:
        emit_json(asdict(done))
        return
    console.print(f"rebuilt {done.home}: PostgreSQL from {done.postgres_from} + "
                  f"{done.wal_files} WAL file(s), {len(done.buckets)} bucket(s), "
                  f"Redis {done.redis_keys if done.redis_from else 'not backed up'} key(s)",
                  markup=False)  # fmt: skip
    console.print(f"start it: comind --home {done.home} up --repo REPO", markup=False)
