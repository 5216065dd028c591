"""``comind flow ...`` and ``comind worker``: the flows of the running platform.

Reads (dead letters included) go through the platform's API; running a partition, a
backfill or a replay happens in this process against the platform's engines (with a
progress bar), at the revision the platform has applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.tree import Tree

from comind.cli.api_client import call, remote
from comind.cli.connect import home_of, platform_db, platform_redis, running_state
from comind.cli.output import console, emit_json
from comind.errors import UsageError
from comind.flows.batch import BatchRunner, RunResult
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.replay import replay as replay_letters
from comind.flows.worker import serve, stop_on_signals
from comind.observe.tracing import setup
from comind.queue.layer import MessageLayer
from comind.spec import load_spec
from comind.spec.names import flow_dead_letter_queue
from comind.stores.objects import FileObjectStore
from comind.stores.spans import SpanStore

flow_cli = typer.Typer(
    help="Flows: list, status, run, backfill, dead letters, replay.", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NameArg = Annotated[str, typer.Argument(help="Flow name (as in comind.yaml).")]


@contextmanager
def _engines(ctx: typer.Context) -> Iterator[FlowEngines]:
    home = home_of(ctx)
    state = running_state(home)
    target = platform_db(home, state)
    layer = MessageLayer.open(target, max_connections=8)
    engines = FlowEngines(layer, target, FileObjectStore(home.objects), platform_redis(home, state))
    try:
        yield engines
    finally:
        engines.close()
        layer.close()


@contextmanager
def _applied(ctx: typer.Context, name: str) -> Iterator[FlowBuilder]:
    """A builder for flow ``name`` at the revision the running platform applied."""
    if remote(ctx):
        raise UsageError("flow run, backfill and replay work on the platform's own machine "
                         "(they drive its engines): run them there, without --server")  # fmt: skip
    doc = call(ctx, "GET", f"/api/v1/flows/{name}")
    root = Path(doc["root"])
    with _engines(ctx) as engines:
        yield FlowBuilder(load_spec(root, doc.get("env")), root, engines)


def worker(
    ctx: typer.Context,
    flow: Annotated[str, typer.Option("--flow", help="The flow to run.")],
    root: Annotated[Path, typer.Option(help="The repo checkout holding comind.yaml.")] = Path("."),
    env: Annotated[str | None, typer.Option(help="Environment overlay to apply.")] = None,
) -> None:
    """Run one flow's worker until SIGTERM (several, on several machines, scale it out)."""
    stop = stop_on_signals()
    root = root.absolute()
    spec = load_spec(root, env)
    with _engines(ctx) as engines:
        traces = setup(f"comind-flow-{flow}", {"store": SpanStore(engines.layer.pool).exporter()})
        try:
            serve(FlowBuilder(spec, root, engines), flow, stop)
        finally:
            traces.shutdown()  # the last spans out while the pool is still open


def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every flow with its state and record totals."""
    flows = call(ctx, "GET", "/api/v1/flows")["flows"]
    if as_json:
        emit_json(flows)
        return
    table = Table("flow", "kind", "state", "in", "out", "quarantined", "dead-lettered", "lag s")
    for f in flows:
        table.add_row(
            f["name"],
            f["kind"],
            f["state"],
            str(f["records_in"]),
            str(f["records_out"]),
            str(f["records_quarantined"]),
            str(f["records_dead_lettered"]),
            "" if f["lag_seconds"] is None else f"{f['lag_seconds']:.1f}",
        )
    console.print(table)


def status(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """One flow: state, lag, totals, errors, recent runs and quarantined records."""
    doc = call(ctx, "GET", f"/api/v1/flows/{name}")
    doc.pop("root", None)
    if as_json:
        emit_json(doc)
        return
    console.print(f"[bold]{name}[/] ({doc['kind']}, {doc['source']}): {doc['state']}")
    console.print(
        f"  in {doc['records_in']}  out {doc['records_out']}  quarantined "
        f"{doc['records_quarantined']}  dead-lettered {doc['records_dead_lettered']}  "
        f"lag {doc['lag_seconds']}"
    )
    if doc["last_error"]:
        console.print(f"  last error: {doc['last_error']}", markup=False)
    for run in doc["runs"][:5]:
        console.print(
            f"  run {run['id']} {run['partition'] or '(all)'} {run['status']} "
            f"in {run['rows_in']} out {run['rows_out']}",
            markup=False,
        )
    for q in doc["quarantined"][:5]:
        console.print(f"  quarantined at {q['step']}: {'; '.join(q['reasons'])}", markup=False)


def run(
    ctx: typer.Context,
    name: NameArg,
    partition: Annotated[
        str | None, typer.Option(help="Partition (default: the last complete one).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a batch flow's partition now (or drain what an unpartitioned flow's source holds)."""
    with _applied(ctx, name) as builder:
        result = BatchRunner(name, builder).run(partition)
    _report([result], as_json)


def backfill(
    ctx: typer.Context,
    name: NameArg,
    first: Annotated[str, typer.Option("--from", help="First partition (e.g. 2026-11-01).")],
    last: Annotated[str, typer.Option("--to", help="Last partition, included.")],
    parallel: Annotated[int, typer.Option(min=1, max=32, help="Partitions run at once.")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Run the partitions in a range whose last run is missing or failed."""
    with _applied(ctx, name) as builder:
        runner = BatchRunner(name, builder)
        todo = runner.missing(first, last)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=as_json,
        ) as bar:
            task = bar.add_task(f"backfill {name}", total=len(todo))
            results = runner.backfill(
                first, last, parallel=parallel, progress=lambda r: bar.advance(task)
            )
    _report(results, as_json)


def _report(results: list[RunResult], as_json: bool) -> None:
    if as_json:
        emit_json([asdict(r) for r in results])
    else:
        for r in results:
            where = r.partition or "(all)"
            line = f"{where}: {r.status}, {r.rows_in} in, {r.rows_out} out, {r.seconds:.2f} s"
            console.print(line + (f" — {r.error}" if r.error else ""), markup=False)
        if not results:
            console.print("nothing to run: every partition in the range succeeded")
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def dlq(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The flow's dead letters: step, error, attempts and the original record."""
    call(ctx, "GET", f"/api/v1/flows/{name}")  # a clear error for an unknown flow
    path = f"/api/v1/queues/{quote(flow_dead_letter_queue(name), safe='/')}/messages"
    try:
        msgs = call(ctx, "GET", path, params={"limit": limit})["messages"]
    except UsageError:  # no dead-letter queue (yet): no dead letters
        msgs = []
    letters = [_letter(m["body"], m["sent_at"]) for m in msgs]
    if as_json:
        emit_json(letters)
        return
    if not letters:
        console.print(f"no dead letters for {name}")
    for letter in letters:
        console.print(
            f"{letter.get('at')} {letter['step']} {letter['error_type']}: {letter['error']} "
            f"(attempts {letter['attempts']})",
            markup=False,
        )
        console.print(f"  {letter['record']}", markup=False)


def _letter(body: str, sent: str | None) -> dict[str, Any]:
    letter: dict[str, Any] = json.loads(body)
    letter["at"] = sent
    return letter


def replay(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Send the flow's dead letters back through it (after fixing the cause)."""
    with _applied(ctx, name) as builder:
        outcome = replay_letters(builder.runner(name), builder.engines.layer.queues, limit=limit)
    doc = {
        "replayed": outcome.records_in,
        "written": outcome.written,
        "failed_again": len(outcome.failed),
        "quarantined": len(outcome.quarantined),
    }
    if as_json:
        emit_json(doc)
    else:
        console.print(
            f"replayed {doc['replayed']}: {doc['written']} written, "
            f"{doc['failed_again']} dead-lettered again, {doc['quarantined']} quarantined"
        )


def token(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """The flow's ingest token (for POST /ingest/NAME)."""
    value = call(ctx, "GET", f"/api/v1/flows/{name}/token", admin=True)["token"]
    if as_json:
        emit_json({"token": value})
    else:
        typer.echo(value)


def traces(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many batches.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """The flow's most recent batches as traces: a span per step, sink and acknowledgement."""
    found = call(ctx, "GET", f"/api/v1/flows/{name}/traces?limit={limit}")["traces"]
    if as_json:
        emit_json(found)
        return
    tree = Tree(f"[bold]{name}[/]: {len(found)} recent batch trace(s)")
    for batch in found:
        _branch(tree, batch)
    console.print(tree)


def _branch(parent: Tree, span: dict[str, Any]) -> None:
    counts = " ".join(f"{k.removeprefix('comind.')}={v}" for k, v in span["attributes"].items()
                      if k != "comind.flow")  # fmt: skip
    head = f"{escape(span['name'])} {span['seconds'] * 1000:.1f} ms"
    head += " [red]error[/]" if span["status"] == "error" else ""
    where = f" {span['started_at']} trace {span['trace_id']}" if span["parent_id"] is None else ""
    node = parent.add(f"{head} [dim]{escape(counts + where)}[/]")
    for child in span["children"]:
        _branch(node, child)


for _name, _fn in (
    ("ls", ls),
    ("status", status),
    ("run", run),
    ("backfill", backfill),
    ("dlq", dlq),
    ("replay", replay),
    ("token", token),
    ("traces", traces),
):
    flow_cli.command(_name)(_fn)
