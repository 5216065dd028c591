"""``comind deploy ...``: the deployments of the environment (commit → CI → sync → health)
and its DORA metrics, through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json

deploy_cli = typer.Typer(help="Deployments: the log, the DORA metrics.", no_args_is_help=True)
Env = Annotated[str | None, typer.Option("--env", help="Only this environment.")]


@deploy_cli.command("log")
def log(
    ctx: typer.Context,
    env: Env = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Each sync that applied a revision, newest first: its commit, CI, outcome, health."""
    params: dict[str, Any] = {"limit": limit, **({"env": env} if env else {})}
    found = call(ctx, "GET", "/api/v1/deployments", params=params)["deployments"]
    if as_json:
        emit_json(found)
        return
    table = Table("sync", "env", "commit", "CI", "tests", "artifacts", "outcome", "deployed",
                  "health")  # fmt: skip
    for d in found:
        ci = d["ci"]
        gate = ("passed" if ci.get("green") else "red") if "green" in ci else "—"
        tests = ci.get("tests") or {}
        ran = (
            f"{tests['tests']:.0f} ({tests['failures'] + tests['errors']:.0f} failed)"
            if tests
            else ""
        )
        health = _health(d)
        table.add_row(str(d["sync_id"]), d["env"], f"{d['revision'][:12]} {d['subject']}", gate,
                      ran, ", ".join(ci.get("artifacts") or []), d["outcome"],
                      (d["finished_at"] or "")[:19], health)  # fmt: skip
    console.print(table)


@deploy_cli.command("dora")
def dora(
    ctx: typer.Context,
    env: Env = None,
    days: Annotated[int, typer.Option(min=1, max=365, help="The window.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Deployment frequency, lead time, change failure rate and time to restore."""
    params: dict[str, Any] = {"days": days, **({"env": env} if env else {})}
    doc = call(ctx, "GET", "/api/v1/dora", params=params)
    if as_json:
        emit_json(doc)
        return

    def seconds(value: float | None) -> str:
        return "—" if value is None else f"{value:,.0f} s"

    rate = doc["change_failure_rate"]
    console.print(f"environment {doc['env']}, last {doc['days']} days:\n"
                  f"  deployment frequency  {doc['per_day']:.2f} a day ({doc['deployments']})\n"
                  f"  lead time for changes {seconds(doc['lead_time_seconds'])}\n"
                  f"  change failure rate   {'—' if rate is None else f'{rate:.0%}'}\n"
                  f"  time to restore       {seconds(doc['time_to_restore_seconds'])}")  # fmt: skip


def _health(deployment: dict[str, Any]) -> str:
    if deployment["healthy_at"]:
        return f"Healthy {deployment['healthy_at'][:19]}"
    if deployment["degraded_at"]:
        return f"Degraded {deployment['degraded_at'][:19]}"
    return "Progressing"


def _tests(totals: dict[str, float] | None) -> str:
    if not totals:
        return ""
    return f"{totals['tests']:.0f} ({totals['failures'] + totals['errors']:.0f} failed)"
