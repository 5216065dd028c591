"""``comind app env``: the environment an app gets from the platform."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from comind.cli.output import console, emit_json
from comind.cli.runtime import platform_sealer
from comind.embedded.home import StateDir
from comind.embedded.lock import holder_pid
from comind.embedded.settings import Settings
from comind.errors import ComindError, UsageError
from comind.queue.model import REGION
from comind.stores.credentials import Credentials
from comind.stores.platform_db import PLATFORM_DB
from comind.stores.postgres import PgTarget, make_pool

app_cli = typer.Typer(help="Apps: their environment and credentials.", no_args_is_help=True)


@app_cli.command("env")
def env(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="App name from comind.yaml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    shell: Annotated[bool, typer.Option("--shell", help="As `export` lines for eval.")] = False,
) -> None:
    """Print the environment APP gets, secrets included (for a user on this machine)."""
    home = StateDir(_home(ctx))
    state = _running_state(home)
    known = state.get("apps") or []
    if app not in known:
        raise UsageError(f"no app '{app}' in the running platform (apps: {', '.join(known)})")
    variables = _environment(home, state, app)
    if as_json:
        emit_json({"app": app, "env": variables})
    elif shell:
        for key, value in variables.items():
            console.print(f"export {key}={shlex.quote(value)}", markup=False)
    else:
        for key, value in variables.items():
            console.print(f"{key}={value}", markup=False)


def _home(ctx: typer.Context) -> Any:
    opts = ctx.obj
    return opts.home if opts is not None and opts.home is not None else Settings().home


def _running_state(home: StateDir) -> dict[str, Any]:
    state = home.read_state()
    if holder_pid(home.lock_file) is None or not state:
        raise ComindError(f"no platform is running on {home.root}; start it with `comind up`")
    return state


def _environment(home: StateDir, state: dict[str, Any], app: str) -> dict[str, str]:
    host, _, port = state["engines"]["postgres"]["address"].rpartition(":")
    target = PgTarget(host, int(port), "postgres", home.secret("postgres-password"), PLATFORM_DB)
    with make_pool(target, min_size=1, max_size=1) as pool:
        key = Credentials(pool, platform_sealer(home)).ensure(app)
    return {
        "AWS_ENDPOINT_URL_SQS": state["sqs_url"],
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
