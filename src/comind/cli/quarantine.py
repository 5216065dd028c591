"""``comind flow quarantine ls|discard|replay``: a flow's quarantined records.

``ls`` asks with the viewer token (PII fields masked) unless ``--raw``, which asks with the
admin token (or the ``--token`` given: raw for an operator or admin). ``discard`` and
``replay`` are changes (operator), audited by the platform with the count and the ids.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, YesOpt, console, emit_json, waiting
from comind.errors import UsageError

quarantine_cli = typer.Typer(
    help="A flow's quarantined records: list, discard, replay.", no_args_is_help=True
)
NameArg = Annotated[str, typer.Argument(help="Flow name (as in comind.yaml).")]
IdsOpt = Annotated[list[int] | None, typer.Option("--id", help="A record's id (repeatable).")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every record of the flow.")]
LONG = 3600


def _path(name: str, action: str = "") -> str:
    return f"/api/v1/flows/{name}/quarantine" + (f"/{action}" if action else "")


@quarantine_cli.command("ls")
def ls(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    raw: Annotated[bool, typer.Option("--raw", help="PII fields raw (needs operator).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The flow's quarantined records: step, reasons, the record (PII masked unless --raw)."""
    doc = call(ctx, "GET", _path(name), params={"limit": limit}, admin=raw)
    if as_json:
        emit_json(doc["records"])
        return
    table = Table("id", "at", "step", "reasons", "record", "pii")
    for r in doc["records"]:
        pii = f"{', '.join(r['pii'])} ({'raw' if r['raw'] else 'masked'})" if r["pii"] else ""
        table.add_row(str(r["id"]), r["at"], r["step"], "; ".join(r["reasons"]),
                      json.dumps(r["record"]), pii)  # fmt: skip
    console.print(table if doc["records"] else f"no quarantined records for {name}")


@quarantine_cli.command("discard")
def discard(
    ctx: typer.Context,
    name: NameArg,
    ids: IdsOpt = None,
    every: AllOpt = False,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Records older than this (e.g. 3d).")
    ] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete quarantined records for good (asks first; audited)."""
    chosen = [bool(ids), every, older_than is not None]
    if chosen.count(True) != 1:
        raise UsageError("name exactly one of --id ID..., --all, --older-than D")
    what = ("every record" if every else f"records older than {older_than}" if older_than
            else f"{len(ids or [])} record(s)")  # fmt: skip
    if not yes and not typer.confirm(f"discard {what} of {name}'s quarantine?"):
        raise typer.Exit(1)
    body: dict[str, Any] = {"ids": ids or [], "all": every, "older_than": older_than}
    doc = call(ctx, "POST", _path(name, "discard"), body=body, admin=True)
    if as_json:
        emit_json(doc)
    else:
        console.print(f"discarded {doc['discarded']} quarantined record(s) of {name}")


@quarantine_cli.command("replay")
def replay(
    ctx: typer.Context,
    name: NameArg,
    ids: IdsOpt = None,
    every: AllOpt = False,
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", help="FIELD=VALUE set on every replayed record (JSON or text)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send quarantined records back through the flow (raw values, with the edits)."""
    if bool(ids) == every:
        raise UsageError("name either --id ID... or --all")
    body = {"ids": ids or [], "all": every, "set": dict(_edit(s) for s in sets or [])}
    with waiting(f"replaying {name}'s quarantined records", as_json):
        doc = call(ctx, "POST", _path(name, "replay"), body=body, admin=True, timeout=LONG)
    if as_json:
        emit_json(doc)
    else:
        again = f"{doc['quarantined']} quarantined again, {doc['failed']} dead-lettered"
        console.print(f"replayed {doc['replayed']}: {doc['written']} written, {again}")


def _edit(text: str) -> tuple[str, Any]:
    field, sep, value = text.partition("=")
    if not sep or not field:
        raise UsageError(f"--set {text}: expected FIELD=VALUE")
    try:
        return field, json.loads(value)
    except ValueError:
        return field, value
