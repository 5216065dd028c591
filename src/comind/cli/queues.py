"""``comind queue ...``: look into queues and act on them, through the platform's API.

Queue names are the platform's ``app/queue`` (as in comind.yaml); a FIFO queue may be
named with or without its ``.fifo`` suffix. Reads need a viewer token, changes an operator.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, YesOpt, console, emit_json

queue_cli = typer.Typer(
    help="Queues: list, inspect, send, peek, redrive, purge.", no_args_is_help=True
)
NameArg = Annotated[str, typer.Argument(help="Queue as app/queue.")]
DEPTH = ("visible", "in_flight", "delayed", "oldest_age_seconds")


def _path(name: str, what: str) -> str:
    return f"/api/v1/queues/{quote(name, safe='/')}/{what}"


@queue_cli.command("ls")
def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every queue with its depth."""
    queues = call(ctx, "GET", "/api/v1/queues")["queues"]
    rows = [{"queue": q["queue"], **{k: q[k] for k in DEPTH}} for q in queues]
    if as_json:
        emit_json(rows)
        return
    table = Table("queue", "visible", "in flight", "delayed", "oldest (s)")
    for r in rows:
        table.add_row(
            r["queue"],
            str(r["visible"]),
            str(r["in_flight"]),
            str(r["delayed"]),
            f"{r['oldest_age_seconds']:.0f}",
        )
    console.print(table)


@queue_cli.command("stats")
def stats(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """A queue's attributes and depth."""
    doc = call(ctx, "GET", _path(name, "stats"))
    queue, attrs, sources = doc["queue"], doc["attributes"], doc["dead_letter_sources"]
    if as_json:
        emit_json({"queue": queue, "attributes": attrs, "dead_letter_sources": sources})
        return
    table = Table("attribute", "value", title=queue)
    for key, value in sorted(attrs.items()):
        table.add_row(key, value)
    if sources:
        table.add_row("DeadLetterSources", ", ".join(sources))
    console.print(table)


@queue_cli.command("send")
def send(
    ctx: typer.Context,
    name: NameArg,
    body: Annotated[str, typer.Argument(help="Message body.")],
    group: Annotated[str | None, typer.Option(help="FIFO message group id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one message."""
    result = call(ctx, "POST", _path(name, "messages"), body={"body": body, "group": group},
                  admin=True)  # fmt: skip
    queue = result.pop("queue")
    if as_json:
        emit_json(result)
    else:
        console.print(f"sent {result['message_id']} to {queue}")


@queue_cli.command("peek")
def peek(
    ctx: typer.Context,
    name: NameArg,
    dlq: Annotated[bool, typer.Option("--dlq", help="Peek the queue's DLQ.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show the oldest messages without consuming them."""
    if dlq:
        from comind.spec.names import dead_letter_name  # the spec package: this command only

        name = dead_letter_name(call(ctx, "GET", _path(name, "stats"))["queue"])
    doc = call(ctx, "GET", _path(name, "messages"), params={"limit": limit})
    messages: list[dict[str, Any]] = doc["messages"]
    if as_json:
        emit_json(messages)
        return
    table = Table("message id", "receives", "body", "dead-letter reason", title=doc["queue"])
    for m in messages:
        reason = (m["dead_letter"] or {}).get("last_error") or ""
        table.add_row(m["message_id"], str(m["receive_count"]), m["body"][:80], str(reason)[:60])
    console.print(table)


@queue_cli.command("redrive")
def redrive(
    ctx: typer.Context,
    dlq: Annotated[str, typer.Argument(help="Dead-letter queue (app/queue-dlq).")],
    to: Annotated[str | None, typer.Option(help="Destination (default: sources)")] = None,
    rate: Annotated[int | None, typer.Option(min=1, max=500, help="Messages/s")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the task to its end.")] = True,
) -> None:
    """Move dead letters back to their source queues (or --to), at a bounded rate."""
    started = call(ctx, "POST", _path(dlq, "moves"), body={"to": to, "rate": rate}, admin=True)
    source, handle = started["queue"], started["task"]
    console.print(f"move task {handle} started on {source}")
    if wait:
        _follow(ctx, source, started)


def _follow(ctx: typer.Context, source: str, task: dict[str, Any]) -> None:
    """Show the task's progress until it ends (the platform advances it every 0.2 s)."""
    with Progress(TextColumn("redrive"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        job = bar.add_task("redrive", total=task["to_move"])
        while task["status"] == "RUNNING":
            time.sleep(0.2)
            moves = call(ctx, "GET", _path(source, "moves"))["moves"]
            task = next(t for t in moves if t["task"] == task["task"])
            bar.update(job, completed=task["moved"])
    console.print(f"{task['status'].lower()}: {task['moved']} of {task['to_move']} moved")


@queue_cli.command("purge")
def purge(
    ctx: typer.Context,
    name: NameArg,
    yes: YesOpt = False,
) -> None:
    """Delete every message of a queue (asks first)."""
    if not yes:
        doc = call(ctx, "GET", _path(name, "stats"))
        total = sum(doc["depth"][k] for k in ("visible", "in_flight", "delayed"))
        if not typer.confirm(f"delete all {total} messages of {doc['queue']}?"):
            raise typer.Exit(1)
    done = call(ctx, "POST", _path(name, "purge"), admin=True)
    console.print(f"purged {done['purged']} messages from {done['queue']}")
