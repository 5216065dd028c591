"""``comind flow ...`` and ``comind worker``: the flows of the running platform.

Every flow command goes through the platform's API (runs, backfills and replays are done
by the platform, at the revision it has applied, and answered when done); ``comind worker``
is an engine itself and connects to the platform's engines directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from comind.cli.api_client import call
from comind.cli.connect import home_of
from comind.cli.output import JsonOpt, console, emit_json, waiting
from comind.cli.quarantine import quarantine_cli

flow_cli = typer.Typer(
    help="Flows: list, status, run, backfill, dead letters, replay, quarantine.",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(help="Flow name (as in comind.yaml).")]


LONG = 6 * 3600  # a backfill of many partitions may take hours


def worker(
    ctx: typer.Context,
    flow: Annotated[str, typer.Option("--flow", help="The flow to run.")],
    root: Annotated[Path, typer.Option(help="The repo checkout holding comind.yaml.")] = Path("."),
    env: Annotated[str | None, typer.Option(help="Environment overlay to apply.")] = None,
    job: Annotated[bool, typer.Option(hidden=True, help="One job (JSON on standard input), "
                                      "then exit: the platform runs operators' jobs so")] = False,
) -> None:  # fmt: skip
    """Run one flow's worker until SIGTERM (several, on several machines, scale it out)."""
    from comind.platform import worker as flow_worker  # the engines' drivers: this command only

    home = home_of(ctx)
    if job:
        flow_worker.run_job(home, flow, root.absolute(), env)
    else:
        flow_worker.run_worker(home, flow, root.absolute(), env)


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
        why = f" — {run['error']}" if run["status"] == "blocked" and run["error"] else ""
        console.print(
            f"  run {run['id']} {run['partition'] or '(all)'} {run['status']} "
            f"in {run['rows_in']} out {run['rows_out']}{why}",
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
    with waiting(f"running {name}", as_json):
        results = call(ctx, "POST", f"/api/v1/flows/{name}/run", body={"partition": partition},
                       admin=True, timeout=LONG)["results"]  # fmt: skip
    _report(results, as_json)


# the API's bound (flows/limits.py MAX_PARALLEL; the CLI reaches no flow module)
MAX_PARALLEL = 32


def backfill(
    ctx: typer.Context,
    name: NameArg,
    first: Annotated[str, typer.Option("--from", help="First partition (e.g. 2026-11-01).")],
    last: Annotated[str, typer.Option("--to", help="Last partition, included.")],
    parallel: Annotated[
        int, typer.Option(min=1, max=MAX_PARALLEL, help="Partitions run at once.")
    ] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Run the partitions in a range whose last run is missing or failed."""
    body = {"from": first, "to": last, "parallel": parallel}
    with waiting(f"backfilling {name} {first}..{last}", as_json):
        results = call(ctx, "POST", f"/api/v1/flows/{name}/backfill", body=body, admin=True,
                       timeout=LONG)["results"]  # fmt: skip
    _report(results, as_json)


def _report(results: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(results)
    else:
        for r in results:
            where = r["partition"] or "(all)"
            line = (f"{where}: {r['status']}, {r['rows_in']} in, {r['rows_out']} out, "
                    f"{r['seconds']:.2f} s")  # fmt: skip
            console.print(line + (f" — {r['error']}" if r["error"] else ""), markup=False)
        if not results:
            console.print("nothing to run: every partition in the range succeeded")
    if any(r["status"] in ("failed", "blocked") for r in results):
        raise typer.Exit(1)


def dlq(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    raw: Annotated[bool, typer.Option("--raw", help="PII fields raw (needs operator).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The flow's dead letters: step, error, attempts and the original record (its declared
    PII fields masked unless --raw, which asks with the admin token, as quarantine ls)."""
    path, params = f"/api/v1/flows/{name}/dlq", {"limit": limit}
    letters = call(ctx, "GET", path, params=params, admin=raw)["letters"]
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
        masked = f"  (masked: {', '.join(letter['pii'])})" if letter.get("pii") else ""
        console.print(f"  {letter['record']}{masked}", markup=False)


def replay(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Send the flow's dead letters back through it (after fixing the cause)."""
    with waiting(f"replaying {name}'s dead letters", as_json):
        doc = call(ctx, "POST", f"/api/v1/flows/{name}/replay", body={"limit": limit},
                   admin=True, timeout=LONG)  # fmt: skip
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
flow_cli.add_typer(quarantine_cli, name="quarantine")
