"""``comind lineage show NODE`` and ``comind lineage impact DATASET[.COLUMN]``: the lineage
graph of the applied spec, through the platform's API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json

lineage_cli = typer.Typer(help="Where data comes from and what a change reaches.",
                          no_args_is_help=True)  # fmt: skip
DepthOpt = Annotated[int, typer.Option(min=1, max=100, help="How many edges to walk.")]


@lineage_cli.command("show")
def show(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="KIND:NAME, or a dataset's name.")],
    depth: DepthOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """The node's upstream and downstream, each node with what feeds it and what it feeds."""
    doc = call(ctx, "GET", "/api/v1/lineage", params={"node": node, "depth": depth})
    if as_json:
        emit_json(doc)
        return
    table = Table("node", "fields", "from", "to", title=node)
    for n in doc["graph"]:
        table.add_row(n["id"], ", ".join(n["data"]["fields"]),
                      "\n".join(e["origin"] for e in n["inEdges"]),
                      "\n".join(e["destination"] for e in n["outEdges"]))  # fmt: skip
    console.print(table)


@lineage_cli.command("impact")
def impact(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="DATASET or DATASET.COLUMN (or KIND:NAME).")],
    depth: DepthOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """Every dataset, flow, queue, app and alert downstream, nearest first."""
    node, field = split_target(target)
    params: dict[str, Any] = {"node": node, "depth": depth} | ({"field": field} if field else {})
    doc = call(ctx, "GET", "/api/v1/lineage/impact", params=params)
    if as_json:
        emit_json(doc)
        return
    table = Table("distance", "kind", "name", "fields", title=f"impact of {target}")
    for n in doc["impact"]:
        table.add_row(str(n["distance"]), n["kind"], n["name"], ", ".join(n.get("fields") or []))
    console.print(table if doc["impact"] else f"nothing downstream of {target}")


def split_target(target: str) -> tuple[str, str | None]:
    """``APP.TABLE.COLUMN`` is a dataset's column (dataset names are ``APP.TABLE``);
    ``KIND:NAME`` and ``APP.TABLE`` are nodes."""
    if ":" in target:
        return target, None
    parts = target.split(".")
    if len(parts) == 3:
        return f"dataset:{parts[0]}.{parts[1]}", parts[2]
    return f"dataset:{target}", None
