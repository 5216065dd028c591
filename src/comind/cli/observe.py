"""``comind observe metrics`` and ``comind observe rules``: what a Prometheus setup consumes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comind.apps import metrics as app_metrics
from comind.backup import metrics as backup_metrics
from comind.cli import repo as repos
from comind.cli.output import console
from comind.flows import metrics as flow_metrics
from comind.gitops import metrics as gitops_metrics
from comind.observe import dashboards, reference, rules, tracing
from comind.observe.metrics import REGISTRY
from comind.queue import metrics as queue_metrics

observe_cli = typer.Typer(help="Metrics reference and alerting rules.", no_args_is_help=True)
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")]
COMPONENTS = (
    app_metrics,
    backup_metrics,
    flow_metrics,
    gitops_metrics,
    queue_metrics,
    tracing,
)  # imported: their metrics registered


def metrics_markdown() -> str:
    """docs/metrics.md as the code defines it."""
    extra = [*queue_metrics.depth_families(), *backup_metrics.BackupCollector.families()]
    return reference.markdown(reference.documented(REGISTRY, extra))


@observe_cli.command("metrics")
def metrics(out: OutOpt = None) -> None:
    """The metrics reference (Markdown) generated from the registry."""
    _emit(metrics_markdown(), out)


@observe_cli.command("rules")
def rules_file(
    path: Annotated[Path, typer.Argument(help="Platform repo (holding comind.yaml).")] = Path("."),
    env: Annotated[str | None, typer.Option(help="Environment overlay.")] = None,
    out: OutOpt = None,
) -> None:
    """Prometheus alerting rules: the built-in defaults and the spec's alerts."""
    _emit(rules.render(repos.load(path, env)), out)


@observe_cli.command("dashboards")
def dashboards_dir(
    out: Annotated[Path, typer.Option("--out", help="Directory for the JSON files.")] = Path(
        "dashboards"
    ),
) -> None:
    """Grafana dashboards (JSON) for the platform's metrics: overview, queues, gitops."""
    out.mkdir(parents=True, exist_ok=True)
    for name in dashboards.DASHBOARDS:
        (out / f"comind-{name}.json").write_text(dashboards.render(name))
    console.print(f"wrote {len(dashboards.DASHBOARDS)} dashboards to {out}")


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        console.print(text, end="", markup=False)
        return
    out.write_text(text)
    console.print(f"wrote {out}")
