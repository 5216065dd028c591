"""``comind observe metrics`` and ``comind observe rules``: what a Prometheus setup consumes.

:mod:`comind.platform.observe` loads in the commands: every other command of the CLI would
pay for it (OpenLineage's client, the flow engine) at each start; so does the repo's loader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comind.cli.output import console

observe_cli = typer.Typer(help="Metrics reference and alerting rules.", no_args_is_help=True)
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")]


@observe_cli.command("metrics")
def metrics(out: OutOpt = None) -> None:
    """The metrics reference (Markdown) generated from the registry."""
    from comind.platform.observe import metrics_markdown

    _emit(metrics_markdown(), out)


@observe_cli.command("rules")
def rules_file(
    path: Annotated[Path, typer.Argument(help="Platform repo (holding comind.yaml).")] = Path("."),
    env: Annotated[str | None, typer.Option(help="Environment overlay.")] = None,
    out: OutOpt = None,
) -> None:
    """Prometheus alerting rules: the built-in defaults and the spec's alerts."""
    from comind.platform import repo as repos
    from comind.platform.observe import alert_rules

    _emit(alert_rules(repos.load(path, env)), out)


@observe_cli.command("dashboards")
def dashboards_dir(
    out: Annotated[Path, typer.Option("--out", help="Directory for the JSON files.")] = Path(
        "dashboards"
    ),
) -> None:
    """Grafana dashboards (JSON) for the platform's metrics: overview, queues, gitops."""
    from comind.platform.observe import grafana_dashboards

    out.mkdir(parents=True, exist_ok=True)
    found = grafana_dashboards()
    for name, text in found.items():
        (out / f"comind-{name}.json").write_text(text)
    console.print(f"wrote {len(found)} dashboards to {out}")


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        console.print(text, end="", markup=False)
        return
    out.write_text(text)
    console.print(f"wrote {out}")
