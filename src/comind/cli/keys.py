"""``comind keys``: the keyring's status, KEK rotation and retirement, and the DR export.

Rotation and retirement go through the API when the platform runs (its keyring sees them;
admin, audited), else they work on the state directory's files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from comind.cli.api_client import call, remote
from comind.cli.connect import home_of
from comind.cli.disaster import PASSPHRASE_ENV, passphrase
from comind.cli.output import JsonOpt, YesOpt, console, emit_json
from comind.errors import UsageError

if TYPE_CHECKING:
    from comind.platform.keys import KeyService

keys_cli = typer.Typer(
    help="The keyring: status, rotate, retire; export for disaster recovery.",
    no_args_is_help=True,
)


def _keys(
    ctx: typer.Context, path: str, body: dict[str, Any] | None, here: Callable[[KeyService], Any]
) -> Any:
    """Through the running platform's API, else on the state directory."""
    from comind.platform.local import lock_holder

    if remote(ctx) or lock_holder(home_of(ctx)) is not None:
        return call(ctx, "POST" if body is not None else "GET", path, body=body, admin=True)
    from comind.platform.keys import KeyService

    return here(KeyService(home_of(ctx)))


@keys_cli.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """KEK versions, and the data keys of every scope with the KEK version wrapping each."""
    doc = _keys(ctx, "/api/v1/keys", None, lambda k: k.status())
    if as_json:
        emit_json(doc)
        return
    console.print(f"key-encryption key: {doc['kek_current']} (versions: "
                  f"{', '.join(doc['kek_versions'])})")  # fmt: skip
    for entry in doc["scopes"]:
        wrapped = ", ".join(f"{k} ({v})" for k, v in entry["keys"].items())
        console.print(f"  {entry['scope']}: current {entry['current']}; {wrapped}")
    console.print(f"objects waiting to be re-encrypted: {doc['reencrypt_remaining']}")


@keys_cli.command("rotate")
def rotate(
    ctx: typer.Context,
    reencrypt: Annotated[bool, typer.Option(
        "--reencrypt", help="Also new data keys for every encrypted bucket and the backups.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """A new key-encryption key; every data key re-wrapped under it (no data re-encrypted)."""
    body = {"reencrypt": reencrypt}
    done = _keys(ctx, "/api/v1/keys/rotate", body, lambda k: k.rotate(reencrypt=reencrypt))
    if as_json:
        emit_json(done)
        return
    console.print(f"key-encryption key {done['kek_version']}: {done['rewrapped']} data key(s) "
                  "re-wrapped")  # fmt: skip
    if done["new_data_keys"]:
        console.print(f"new data keys for {', '.join(done['new_data_keys'])}")


@keys_cli.command("retire")
def retire(ctx: typer.Context, version: str, yes: YesOpt = False) -> None:
    """Delete an old key-encryption key version (refused while a data key is wrapped by it)."""
    if not yes and not typer.confirm(f"delete key-encryption key {version} for good?"):
        raise typer.Exit(1)
    body = {"version": version}
    done = _keys(ctx, "/api/v1/keys/retire", body, lambda k: k.retire(version))
    console.print(f"retired {done['retired']}; left: {', '.join(done['kek_versions'])}")


@keys_cli.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Where to write the passphrase-protected keys.")],
) -> None:
    """Export the backup keys, the keyring (KEK and wrapped data keys) and the platform's
    other secrets under a passphrase (asked, or COMIND_KEYS_PASSPHRASE): what a disaster
    recovery needs besides the backups (and COMIND_KEK_PASSPHRASE, if one is set)."""
    from comind.platform.recovery import export_keys

    chosen = passphrase()
    if len(chosen) < 12:
        raise UsageError("use a passphrase of at least 12 characters")
    if PASSPHRASE_ENV not in os.environ and passphrase("again: ") != chosen:
        raise UsageError("the passphrases differ")
    export_keys(home_of(ctx), chosen, out)
    console.print(f"wrote {out}: every secret of this platform; keep it away from this machine")
