"""``comind render --target kubernetes --env ENV --out DIR``: the repo's spec as a Kustomize
tree and Argo CD Applications (see docs/kubernetes.md). Offline: it reads the repo and, when
apps declare secrets, the state directory's sealing keys; it needs no running platform."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from comind.cli.connect import home_of
from comind.cli.output import JsonOpt, console, emit_json


def render(
    ctx: typer.Context,
    env: Annotated[str, typer.Option(help="The environment to render (as in comind.yaml).")],
    out: Annotated[Path, typer.Option(help="Directory to write (its own: new or rendered).")],
    target: Annotated[Literal["kubernetes"], typer.Option(help="What to render for.")] = (
        "kubernetes"
    ),
    repo: Annotated[Path, typer.Option(help="The platform repo holding comind.yaml.")] = Path("."),
    sealing_cert: Annotated[
        Path | None,
        typer.Option(help="The SealedSecrets controller's certificate (kubeseal --fetch-cert)."),
    ] = None,
    registry: Annotated[
        str, typer.Option(help="Image registry: images are REGISTRY/APP:TAG.")
    ] = "registry.local/comind",
    tag: Annotated[str, typer.Option(help="Image tag of this environment.")] = "latest",
    repo_url: Annotated[
        str, typer.Option(help="Git URL Argo CD syncs the rendered tree from.")
    ] = "https://git.example.com/platform.git",
    revision: Annotated[str, typer.Option(help="Branch or commit Argo CD syncs.")] = "HEAD",
    path: Annotated[
        str, typer.Option(help="Where --out sits in that repository.")
    ] = "deploy/kubernetes",
    as_json: JsonOpt = False,
) -> None:
    """Render the spec for Kubernetes + Argo CD: a Kustomize base per team, an overlay per
    environment, SealedSecrets, policies, monitoring and the Application."""
    from comind.platform.render import Target, render_kubernetes

    target_ = Target.of(out, sealing_cert, env=env, registry=registry, tag=tag,
                        repo_url=repo_url, revision=revision, path=path)  # fmt: skip
    written = render_kubernetes(repo, home_of(ctx), target_)
    names = [str(p.relative_to(out)) for p in written]
    if as_json:
        emit_json({"target": target, "env": env, "out": str(out), "files": names})
        return
    console.print(f"{len(names)} files for {env} in {out}; build one environment with "
                  f"`kubectl kustomize {out}/overlays/{env}`", markup=False)  # fmt: skip
