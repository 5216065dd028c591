"""``comind queue ...``: look into queues and act on them from the platform's machine.

Queue names are the platform's ``app/queue`` (as in comind.yaml); a FIFO queue may be
named with or without its ``.fifo`` suffix.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from comind.cli.connect import home_of, platform_db, running_state
from comind.cli.output import console, emit_json
from comind.errors import UsageError
from comind.queue.errors import QueueDoesNotExist
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.types import ReceivedMessage
from comind.spec.names import dead_letter_name

queue_cli = typer.Typer(
    help="Queues: list, inspect, send, peek, redrive, purge.", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NameArg = Annotated[str, typer.Argument(help="Queue as app/queue.")]


@contextmanager
def _layer(ctx: typer.Context) -> Iterator[MessageLayer]:
    home = home_of(ctx)
    layer = MessageLayer.open(platform_db(home, running_state(home)), max_connections=2)
    try:
        yield layer
    finally:
        layer.close()


def _resolve(layer: MessageLayer, name: str) -> str:
    for candidate in (name, f"{name}.fifo"):
        try:
            layer.queues.queue(candidate)
            return candidate
        except QueueDoesNotExist:
            continue
    raise UsageError(f"no queue '{name}' (see `comind queue ls`)")


@queue_cli.command("ls")
def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every queue with its depth."""
    with _layer(ctx) as layer:
        rows = [{"queue": n, **asdict(layer.queues.stats(n))} for n in layer.admin.names()]
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
    with _layer(ctx) as layer:
        queue = _resolve(layer, name)
        attrs = layer.admin.attributes(queue)
        sources = layer.admin.dead_letter_sources(queue)
    doc: dict[str, Any] = {"queue": queue, "attributes": attrs, "dead_letter_sources": sources}
    if as_json:
        emit_json(doc)
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
    with _layer(ctx) as layer:
        queue = _resolve(layer, name)
        dedup = str(time.time_ns()) if queue.endswith(".fifo") else None
        [result] = layer.queues.send(
            queue, [OutgoingMessage(body=body, group_id=group, dedup_id=dedup)]
        )
    if as_json:
        emit_json(asdict(result))
    else:
        console.print(f"sent {result.message_id} to {queue}")


@queue_cli.command("peek")
def peek(
    ctx: typer.Context,
    name: NameArg,
    dlq: Annotated[bool, typer.Option("--dlq", help="Peek the queue's DLQ.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show the oldest messages without consuming them."""
    with _layer(ctx) as layer:
        queue = _resolve(layer, dead_letter_name(_resolve(layer, name)) if dlq else name)
        messages = layer.queues.peek(queue, limit=limit)
    if as_json:
        emit_json([_message_doc(m) for m in messages])
        return
    table = Table("message id", "receives", "body", "dead-letter reason", title=queue)
    for m in messages:
        reason = (m.dead_letter or {}).get("last_error") or ""
        table.add_row(m.message_id, str(m.receive_count), m.body[:80], str(reason)[:60])
    console.print(table)


def _message_doc(m: ReceivedMessage) -> dict[str, Any]:
    return {
        "message_id": m.message_id, "body": m.body, "receive_count": m.receive_count,
        "sent_at": m.sent_at, "attributes": {k: asdict(v) for k, v in m.attributes.items()},
        "dead_letter": m.dead_letter,
    }  # fmt: skip


@queue_cli.command("redrive")
def redrive(
    ctx: typer.Context,
    dlq: Annotated[str, typer.Argument(help="Dead-letter queue (app/queue-dlq).")],
    to: Annotated[str | None, typer.Option(help="Destination (default: sources)")] = None,
    rate: Annotated[int | None, typer.Option(min=1, max=500, help="Messages/s")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the task to its end.")] = True,
) -> None:
    """Move dead letters back to their source queues (or --to), at a bounded rate."""
    with _layer(ctx) as layer:
        source = _resolve(layer, dlq)
        dest = _resolve(layer, to) if to else None
        handle = layer.moves.start(source, destination=dest, max_per_second=rate)
        console.print(f"move task {handle} started on {source}")
        if wait:
            _follow(layer, source, handle)


def _follow(layer: MessageLayer, source: str, handle: str) -> None:
    with Progress(TextColumn("redrive"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = layer.moves.list(source, limit=1)[0]
        job = bar.add_task("redrive", total=task.to_move)
        while task.status == "RUNNING":
            layer.moves.step()
            time.sleep(0.2)
            task = next(t for t in layer.moves.list(source) if t.handle == handle)
            bar.update(job, completed=task.moved)
    console.print(f"{task.status.lower()}: {task.moved} of {task.to_move} moved")


@queue_cli.command("purge")
def purge(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every message of a queue (asks first)."""
    with _layer(ctx) as layer:
        queue = _resolve(layer, name)
        depth = layer.queues.stats(queue)
        total = depth.visible + depth.in_flight + depth.delayed
        if not yes and not typer.confirm(f"delete all {total} messages of {queue}?"):
            raise typer.Exit(1)
        console.print(f"purged {layer.admin.purge(queue)} messages from {queue}")
