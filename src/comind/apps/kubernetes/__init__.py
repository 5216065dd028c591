"""The spec rendered for a Kubernetes cluster driven by Argo CD (``comind render``).

Pure: a validated :class:`~comind.spec.model.Spec`, an environment and options in, manifests
(plain mappings, one per resource) out; ``layout`` arranges them as a Kustomize tree (a base
per team, an overlay per environment) with the Argo CD Applications beside it.
"""
