"""``comind privacy ...``: what the spec declares about PII and where the platform applies
it, and tokens back to their values for a role that may (audited), through the API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json

privacy_cli = typer.Typer(help="PII: the declared handling, detokenization.",
                          no_args_is_help=True)  # fmt: skip


def report(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Per dataset and field: the declared handling, and the flows and steps applying it."""
    fields = call(ctx, "GET", "/api/v1/privacy/report")["fields"]
    if as_json:
        emit_json(fields)
        return
    table = Table("dataset", "field", "handling", "applied by")
    for f in fields:
        options = ", ".join(f"{k}={v}" for k, v in f["options"].items())
        handling = f["operator"] + (f" ({options})" if options else "")
        handling += f" — {f['reason']}" if f["reason"] else ""
        where = "; ".join(f["applied_by"]) or "no flow writes it yet"
        table.add_row(f["dataset"] or "(step)", f["field"], handling, where)
    console.print(table)


def scan(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset to scan (APP.TABLE).")],
    sample: Annotated[int, typer.Option(min=1, max=100_000, help="Rows to read.")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Scan a dataset's stored rows for PII its pii: does not declare; print a pii: block."""
    doc = call(ctx, "GET", f"/api/v1/privacy/scan/{dataset}", params={"sample": sample},
               admin=True, timeout=120)  # fmt: skip
    if as_json:
        emit_json(doc)
        return
    table = Table("field", "declared", "found (best score)", "hit rate")
    for f in doc["fields"]:
        found = ", ".join(f"{d} ({s:.2f})" for d, s in f["detectors"].items())
        table.add_row(f["field"], "yes" if f["declared"] else "no", found, f"{f['hit_rate']:.0%}")
    console.print(f"{doc['sampled']} rows of {dataset}", markup=False)
    console.print(table)
    if doc["suggested_pii"]:
        console.print("declare under datasets." + dataset + ":", markup=False)
        console.print(doc["suggested_pii"], markup=False)


def detokenize(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset the tokens come from (APP.TABLE).")],
    field: Annotated[str, typer.Argument(help="The field holding them.")],
    tokens: Annotated[list[str], typer.Argument(help="One or more tokens.")],
    as_json: JsonOpt = False,
) -> None:
    """Tokens back to their values (operator of the dataset's app; every call audited)."""
    body = {"dataset": dataset, "field": field, "tokens": tokens}
    values = call(ctx, "POST", "/api/v1/privacy/detokenize", body=body, admin=True)["values"]
    if as_json:
        emit_json(values)
        return
    for token, value in values.items():
        shown = value if value is not None else "(not a token of this platform)"
        console.print(f"{token}\t{shown}", markup=False)


for _name, _fn in (("report", report), ("scan", scan), ("detokenize", detokenize)):
    privacy_cli.command(_name)(_fn)
