"""Argo CD Applications: one per environment, syncing that environment's overlay, automated
(with pruning and self-healing) exactly when the spec's ``sync`` policy says so. Their sync
waves follow the environments' order in the spec, so an app-of-apps brings ``dev`` up
before ``stage`` before ``prod``; inside an overlay every resource carries its own wave
(see :mod:`.naming`)."""

from __future__ import annotations

from typing import Any

from comind.apps.kubernetes.naming import PART_OF, WAVE, Options
from comind.spec.model import Spec

Manifest = dict[str, Any]
ARGOCD_NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"


def application(spec: Spec, opts: Options) -> Manifest:
    env = spec.environments.get(opts.env)
    order = list(spec.environments).index(opts.env) if env is not None else 0
    policy: Manifest = {"syncOptions": ["CreateNamespace=false", "PruneLast=true"],
                        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2,
                                                          "maxDuration": "5m"}}}  # fmt: skip
    if env is None or env.sync.auto:
        sync = env.sync if env is not None else None
        policy["automated"] = {"prune": sync.prune if sync else True,
                               "selfHeal": sync.self_heal if sync else True}  # fmt: skip
    revision = (env.revision or env.branch) if env is not None else None
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": f"{spec.platform.name}-{opts.env}", "namespace": ARGOCD_NAMESPACE,
                     "labels": {PART_OF: spec.platform.name},
                     "annotations": {WAVE: str(order)},
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "source": {"repoURL": opts.repo_url, "targetRevision": revision or opts.revision,
                       "path": f"{opts.path.strip('/')}/overlays/{opts.env}".lstrip("/")},
            "destination": {"server": IN_CLUSTER},
            "syncPolicy": policy,
        },
    }  # fmt: skip
