"""``comind app env`` and ``comind app rotate-key``: what an app gets from the platform,
through its API (admin token; reading the environment is audited as reading secrets)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, YesOpt, console, emit_json

app_cli = typer.Typer(help="Apps: their environment and credentials.", no_args_is_help=True)


@app_cli.command("env")
def env(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="App name from comind.yaml.")],
    as_json: JsonOpt = False,
    shell: Annotated[bool, typer.Option("--shell", help="As `export` lines for eval.")] = False,
) -> None:
    """Print the environment APP gets, secrets included (admin token; audited)."""
    variables: dict[str, str] = call(ctx, "GET", f"/api/v1/apps/{app}/env", admin=True)["env"]
    if as_json:
        emit_json({"app": app, "env": variables})
    elif shell:
        for key, value in variables.items():
            console.print(f"export {key}={shlex.quote(value)}", markup=False)
    else:
        for key, value in variables.items():
            console.print(f"{key}={value}", markup=False)


@app_cli.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="App name from comind.yaml.")],
    yes: YesOpt = False,
) -> None:
    """Issue APP a new access key; the old one stops working at once."""
    if not yes and not typer.confirm(f"revoke {app}'s current key now?"):
        raise typer.Exit(1)
    doc = call(ctx, "POST", f"/api/v1/apps/{app}/rotate-key", admin=True)
    console.print(
        f"{app} now uses access key {doc['access_key_id']}; `comind app env {app}` shows the secret"
    )
