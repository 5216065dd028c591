"""``comind lineage events``: the OpenLineage RunEvents flow runs emitted, newest first,
through the platform's API (``GET /api/v1/lineage/events``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from comind.cli.api_client import call
from comind.cli.output import console, emit_json

COLORS = {"START": "cyan", "RUNNING": "blue", "COMPLETE": "green", "FAIL": "red",
          "ABORT": "yellow"}  # fmt: skip


def events(
    ctx: typer.Context,
    flow: Annotated[str | None, typer.Option(help="Only this flow's runs.")] = None,
    run: Annotated[str | None, typer.Option(help="Only this run (its runId).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="The events as emitted.")] = False,
) -> None:
    """OpenLineage run events of flow runs (START, RUNNING, COMPLETE, FAIL, ABORT)."""
    query: dict[str, Any] = {"flow": flow, "run": run, "limit": limit}
    found = call(ctx, "GET", "/api/v1/lineage/events",
                 params={k: v for k, v in query.items() if v is not None})["events"]  # fmt: skip
    if as_json:
        emit_json(found)
        return
    for event in found:  # one line each: a run id is copied whole into --run, never cut
        console.print(" ".join(x for x in _row(event) if x))


def _row(event: dict[str, Any]) -> list[str]:
    kind = event.get("eventType", "OTHER")
    rows_in = [i.get("inputFacets", {}).get("dataQualityMetrics", {}).get("rowCount")
               for i in event.get("inputs", [])]  # fmt: skip
    rows_out = [o.get("facets", {}).get("dataQualityMetrics", {}).get("rowCount")
                for o in event.get("outputs", [])]  # fmt: skip
    run = event.get("run", {})  # an event a flow wrote itself may lack any part
    facets = run.get("facets", {})
    detail = facets.get("errorMessage", {}).get("message") or _failed_rules(event)
    return [
        str(event.get("eventTime", ""))[:19].replace("T", " "),
        f"[{COLORS.get(kind, 'white')}]{kind:<8}[/]",
        escape(str(event.get("job", {}).get("name", ""))),
        str(run.get("runId", "")),
        f"in={_count(rows_in)}" if _count(rows_in) else "",
        f"out={_count(rows_out)}" if _count(rows_out) else "",
        escape(detail[:200]),
    ]


def _count(values: list[int | None]) -> str:
    known = [v for v in values if v is not None]
    return str(max(known)) if known else ""


def _failed_rules(event: dict[str, Any]) -> str:
    checked = [i.get("inputFacets", {}).get("dataQualityAssertions", {})
               for i in event.get("inputs", [])]  # fmt: skip
    failed = [f"{a['assertion']} {a.get('column') or ''}".strip()
              for c in checked for a in c.get("assertions", []) if not a["success"]]  # fmt: skip
    return f"failed: {', '.join(failed)}" if failed else ""
