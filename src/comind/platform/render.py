"""``comind render``: the repo's spec as manifests for a Kubernetes cluster and Argo CD.

Offline: it reads the repo (comind.yaml, the environment's overlay, the sealed secrets) and
writes a tree; nothing runs. An app's declared secrets are opened with the state directory's
sealing keys and sealed again for the cluster's SealedSecrets controller (its certificate,
``--sealing-cert``), so no value is ever written in the clear. The output directory is the
renderer's own: a directory holding anything else is refused, never overwritten.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from comind.apps.kubernetes.layout import Files, Secrets, render
from comind.apps.kubernetes.naming import Options
from comind.apps.kubernetes.sealing import load_certificate
from comind.embedded.home import StateDir
from comind.errors import UsageError
from comind.gitops.sealed import unseal
from comind.gitops.sealing_keys import sealing_keys
from comind.spec import load_spec
from comind.spec.model import Spec
from comind.spec.references import secret_file

MARKER = ".comind-render"  # in an output directory this renderer made


@dataclass(frozen=True)
class Target:
    out: Path
    sealing_cert: Path | None
    options: Options

    @classmethod
    def of(cls, out: Path, sealing_cert: Path | None, *, env: str, registry: str, tag: str,
           repo_url: str, revision: str, path: str) -> Target:  # fmt: skip
        options = Options(env=env, registry=registry.rstrip("/"), tag=tag, repo_url=repo_url,
                          revision=revision, path=path)  # fmt: skip
        return cls(out, sealing_cert, options)


def render_kubernetes(repo: Path, home: StateDir, target: Target) -> list[Path]:
    """Write ``target.options.env``'s overlay, its Application and the base into
    ``target.out``; the files written."""
    env = target.options.env
    spec = load_spec(repo, env)
    if env not in spec.environments:
        raise UsageError(f"no environment {env!r} in {repo}/comind.yaml "
                         f"(declared: {', '.join(spec.environments) or 'none'})")  # fmt: skip
    files = render(load_spec(repo), spec, target.options, _secrets(repo, home, target, spec))
    return _write(target.out, env, files)


def _secrets(repo: Path, home: StateDir, target: Target, spec: Spec) -> Secrets:
    declared = [(app, name) for app, a in sorted(spec.apps.items()) for name in a.secrets]
    if not declared:
        return Secrets()
    if target.sealing_cert is None:
        raise UsageError("apps declare secrets: give --sealing-cert (the SealedSecrets "
                         "controller's certificate: kubeseal --fetch-cert > cert.pem)")  # fmt: skip
    key = load_certificate(target.sealing_cert.read_bytes())
    keys = sealing_keys(home)
    env = target.options.env
    values = {(app, name): unseal(secret_file(repo, app, name), keys, app=app, env=env, name=name)
              for app, name in declared}  # fmt: skip
    return Secrets(values, key)


def _write(out: Path, env: str, files: Files) -> list[Path]:
    """``files`` into ``out``, replacing the base and ``env``'s overlay (so nothing of an app
    or team gone from the spec stays); other environments' overlays are kept."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UsageError(f"{out} holds files comind render did not write: choose an empty "
                         "or new directory")  # fmt: skip
    for mine in (out / "base", out / "overlays" / env):
        shutil.rmtree(mine, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by comind render: it rewrites this directory\n")
    written = []
    for relative, text in sorted(files.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
