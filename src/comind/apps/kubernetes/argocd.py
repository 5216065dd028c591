"""Argo CD Applications: one per environment, syncing that environment's overlay, automated
(with pruning and self-healing) exactly when the spec's ``sync`` policy says so. Their sync
waves follow the environments' order in the spec, so an app-of-apps brings ``dev`` up
before ``stage`` before ``prod``; inside an overlay every resource carries its own wave
(see :mod:`.naming`). The same Applications also come as one ApplicationSet, for a cluster
that is given one object rather than one per environment."""

from __future__ import annotations

from dataclasses import replace
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


# automated sync is a boolean only some environments have: Argo CD's templates substitute
# inside strings, so it is added by a patch (Argo CD 2.10+) where the element says so
AUTOMATED_PATCH = """{{- if eq .auto "true" }}
spec:
  syncPolicy:
    automated:
      prune: {{ .prune }}
      selfHeal: {{ .selfHeal }}
{{- end }}
"""


def application_set(spec: Spec, opts: Options) -> Manifest | None:
    """One ApplicationSet making every environment's Application exactly as
    :func:`application` does: a list generator with an element per environment (in the
    spec's order) holding what its Application differs in. None without environments."""
    if not spec.environments:
        return None
    template = application(spec, replace(opts, env="{{.env}}"))
    template["metadata"]["annotations"][WAVE] = "{{.wave}}"
    template["spec"]["source"]["targetRevision"] = "{{.revision}}"
    del template["spec"]["syncPolicy"]["automated"]
    elements = []
    for order, (name, env) in enumerate(spec.environments.items()):
        sync = env.sync
        elements.append({"env": name, "wave": str(order),
                         "revision": env.revision or env.branch or opts.revision,
                         "auto": _flag(sync.auto), "prune": _flag(sync.prune),
                         "selfHeal": _flag(sync.self_heal)})  # fmt: skip
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": spec.platform.name, "namespace": ARGOCD_NAMESPACE,
                     "labels": {PART_OF: spec.platform.name}},
        "spec": {"goTemplate": True, "goTemplateOptions": ["missingkey=error"],
                 "generators": [{"list": {"elements": elements}}],
                 "template": {"metadata": template["metadata"], "spec": template["spec"]},
                 "templatePatch": AUTOMATED_PATCH},
    }  # fmt: skip


def _flag(value: bool) -> str:
    return "true" if value else "false"
