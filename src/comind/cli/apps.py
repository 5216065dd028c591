"""``comind app env``: the environment an app gets from the platform."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from comind.cli.access import actor
from comind.cli.connect import ca_env, home_of, platform_db, platform_redis, running_state
from comind.cli.output import console, emit_json
from comind.embedded.home import StateDir
from comind.errors import UsageError
from comind.gitops.plane import Engines, aws_env, service_env
from comind.gitops.resources import PLATFORM, Resource
from comind.platform.runtime import platform_sealer
from comind.stores.access import AccessStore
from comind.stores.credentials import Credentials
from comind.stores.gitops_db import GitOpsRecords, SecretStore
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import make_pool

app_cli = typer.Typer(help="Apps: their environment and credentials.", no_args_is_help=True)


@app_cli.command("env")
def env(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="App name from comind.yaml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    shell: Annotated[bool, typer.Option("--shell", help="As `export` lines for eval.")] = False,
) -> None:
    """Print the environment APP gets, secrets included (for a user on this machine)."""
    home = home_of(ctx)
    state = running_state(home)
    variables = _environment(home, state, app)
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
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Issue APP a new access key; the old one stops working at once."""
    home = home_of(ctx)
    state = running_state(home)
    if app not in (state.get("apps") or []):
        raise UsageError(f"no app '{app}' in the running platform")
    if not yes and not typer.confirm(f"revoke {app}'s current key now?"):
        raise typer.Exit(1)
    with make_pool(platform_db(home, state), min_size=1, max_size=1) as pool:
        key = Credentials(pool, platform_sealer(home)).rotate(app)
    console.print(
        f"{app} now uses access key {key.access_key_id}; `comind app env {app}` shows the secret"
    )


def _environment(home: StateDir, state: dict[str, Any], app: str) -> dict[str, str]:
    with make_pool(platform_db(home, state), min_size=1, max_size=1) as pool:
        inventory = GitOpsRecords(pool).resources()
        known = sorted(set(state.get("apps") or []) | {r.app for r in inventory} - {PLATFORM})
        if app not in known:
            raise UsageError(f"no app '{app}' in the running platform (apps: {', '.join(known)})")
        key = Credentials(pool, platform_sealer(home)).ensure(app)
        records = [r for r in inventory if r.app == app and not r.orphaned]
        resources = [Resource(r.kind, r.app, r.name, r.spec) for r in records]
        services = service_env(app, resources, _engines(home, state),
                               SecretStore(pool, platform_sealer(home)))  # fmt: skip
        AccessStore(pool).audit(actor(), "read-secrets", app, "done")
    return {**services, **aws_env(state["sqs_url"], state.get("s3_url"), key), **ca_env(state)}


def _engines(home: StateDir, state: dict[str, Any]) -> Engines:
    return Engines(
        platform_db(home, state).with_db("postgres"),
        platform_redis(home, state),
        FileObjectStore(home.objects),
    )
