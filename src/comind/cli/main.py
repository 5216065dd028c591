"""The ``comind`` command: thin wrappers that call the layers below.

Errors a user can act on arrive as :class:`ComindError` and are printed as one line
(exit 1, or 2 for usage and spec errors); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from comind import __version__
from comind.cli import flows, gitops, lifecycle, restores, validate
from comind.cli.access import token_cli
from comind.cli.apps import app_cli
from comind.cli.artifacts import artifact_cli
from comind.cli.audit import audit_cli
from comind.cli.backups import backup_cli
from comind.cli.buckets import bucket_cli
from comind.cli.ci import ci_cli
from comind.cli.connect import Globals
from comind.cli.demo import demo_cli
from comind.cli.deploy import deploy_cli
from comind.cli.disaster import dr_cli
from comind.cli.exiting import leave
from comind.cli.flows import flow_cli
from comind.cli.keys import keys_cli
from comind.cli.lineage import lineage_cli
from comind.cli.lineage_events import events as lineage_events
from comind.cli.logs import logs
from comind.cli.observe import observe_cli
from comind.cli.output import fail
from comind.cli.privacy import privacy_cli
from comind.cli.promote import promote
from comind.cli.quality import quality_cli
from comind.cli.queues import queue_cli
from comind.cli.render import render
from comind.cli.seal import seal_cli
from comind.errors import ComindError

app = typer.Typer(
    name="comind",
    help="Comind-Ops: a GitOps data platform. Start with `comind up`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("up")(lifecycle.up)
app.command("down")(lifecycle.down)
app.command("status")(lifecycle.status)
app.command("validate")(validate.validate)
app.command("promote")(promote)
app.command("render")(render)
app.command("logs")(logs)
app.add_typer(artifact_cli, name="artifact")
app.add_typer(audit_cli, name="audit")
app.add_typer(bucket_cli, name="bucket")
app.add_typer(ci_cli, name="ci")
app.add_typer(deploy_cli, name="deploy")
app.command("sync")(gitops.sync)
app.command("diff")(gitops.diff)
app.command("history")(gitops.history)
app.command("rollback")(gitops.rollback)
app.command("autosync")(gitops.autosync)
app_cli.command("ls")(gitops.app_ls)
app_cli.command("show")(gitops.app_show)
app.add_typer(app_cli, name="app")
app.add_typer(queue_cli, name="queue")
app.add_typer(seal_cli, name="seal")
app.add_typer(token_cli, name="token")
app.add_typer(observe_cli, name="observe")
app.add_typer(flow_cli, name="flow")
app.add_typer(quality_cli, name="quality")
app.add_typer(privacy_cli, name="privacy")
app.add_typer(demo_cli, name="demo")
app.add_typer(backup_cli, name="backup")
app.add_typer(keys_cli, name="keys")
app.command("restore")(restores.restore)
app.add_typer(dr_cli, name="dr")
lineage_cli.command("events")(lineage_events)  # OpenLineage run events (H4)
app.add_typer(lineage_cli, name="lineage")
app.command("worker")(flows.worker)

_debug = False


@app.callback()
def main(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="COMIND_HOME", help="State directory [default: ./.comind]"),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="COMIND_SERVER",
            help="A platform's API URL (e.g. https://comind.example.com:8470); commands act "
            "on it instead of the platform of --home.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="COMIND_TOKEN",
            show_default=False,
            help="API token to send (needed with --server; default: the state directory's).",
        ),
    ] = None,
    ca_cert: Annotated[
        Path | None,
        typer.Option(
            "--ca-cert",
            envvar="COMIND_CA_CERT",
            help="PEM file of a private CA to verify the server's HTTPS certificate with.",
        ),
    ] = None,
) -> None:
    global _debug
    _debug = debug
    if server is not None and not server.startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{server}: expected an http:// or https:// URL", param_hint="--server"
        )
    ctx.obj = Globals(debug=debug, home=home, server=server, token=token, ca_cert=ca_cert)


@app.command("version")
def version() -> None:
    """Print the Comind-Ops version."""
    typer.echo(__version__)


def run() -> None:
    """Entry point: run the app, then leave without the interpreter's teardown."""
    try:
        _run()
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def _run() -> None:
    """The app, known errors turned into one line and an exit code."""
    try:
        app()
    except ComindError as exc:
        if _debug:
            traceback.print_exc()
        for line in str(exc).splitlines() or ["unknown error"]:
            fail(line)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # an engine's error or a bug nothing turned into a ComindError
        if _debug:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        fail(f"{type(exc).__name__}: {first} (run with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    run()
