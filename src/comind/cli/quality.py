"""``comind quality ...``: dataset quality of the running platform, through its API —
scores, check history per rule and partition, and checks run on request."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json, waiting

quality_cli = typer.Typer(help="Dataset quality: scores, check history, checks now.",
                          no_args_is_help=True)  # fmt: skip
DatasetArg = Annotated[str, typer.Argument(help="Dataset name (APP.TABLE, as in comind.yaml).")]
PartitionOpt = Annotated[str | None, typer.Option(help="One partition (e.g. 2026-12-03).")]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every dataset with quality rules: its score and the rules failing now."""
    datasets = call(ctx, "GET", "/api/v1/quality")["datasets"]
    if as_json:
        emit_json(datasets)
        return
    table = Table("dataset", "rules", "checks passed", "rows passed", "failing")
    for d in datasets:
        failing = ", ".join(sorted({f["rule"] for f in d["failing"]}))
        table.add_row(d["dataset"], str(d["rules"]), _ratio(d["checks_ratio"]),
                      _ratio(d["rows_ratio"]), failing)  # fmt: skip
    console.print(table)


def show(
    ctx: typer.Context,
    dataset: DatasetArg,
    partition: PartitionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One dataset: its rules, what blocks batch runs, and its check history."""
    doc = call(ctx, "GET", f"/api/v1/quality/{dataset}", params={"partition": partition}
               if partition else None)  # fmt: skip
    if as_json:
        emit_json(doc)
        return
    by = doc["partitioned_by"]
    console.print(f"[bold]{dataset}[/]" + (f" (partitioned by {by})" if by else ""))
    for rule in doc["rules"]:
        console.print(f"  rule {rule}", markup=False)
    for reason in doc["blocking"]:
        console.print(f"  blocked: {reason}", markup=False)
    table = Table("checked at", "partition", "rule", "severity", "result", "failing", "rows")
    for r in doc["history"][:50]:
        cells = (r["partition"] or "(all)", r["rule"], r["severity"], _result(r))
        table.add_row(str(r["checked_at"])[:19], *cells, str(r["failing"]), str(r["rows_checked"]))
    console.print(table)


def _result(r: dict[str, Any]) -> str:
    if r["error"]:
        return f"error: {r['error']}"
    return "passed" if r["passed"] else "failed"


def run(
    ctx: typer.Context,
    dataset: DatasetArg,
    partition: PartitionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a dataset (or one partition of it) now; exit 1 when an error rule fails."""
    with waiting(f"checking {dataset}", as_json):
        path, body = f"/api/v1/quality/{dataset}/run", {"partition": partition}
        results = call(ctx, "POST", path, body=body, admin=True, timeout=600)["results"]
    if as_json:
        emit_json(results)
    else:
        for r in results:
            sample = f" e.g. {r['sample'][:5]}" if r["sample"] else ""
            console.print(f"{r['rule']} ({r['severity']}): {_result(r)}, {r['failing']} of "
                          f"{r['rows_checked']} rows{sample}", markup=False)  # fmt: skip
    if any(not r["passed"] and r["severity"] == "error" for r in results):
        raise typer.Exit(1)


for _name, _fn in (("ls", ls), ("show", show), ("run", run)):
    quality_cli.command(_name)(_fn)
