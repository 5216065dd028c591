"""What a Prometheus and Grafana setup consumes, generated from the code and the spec: the
metrics reference (docs/metrics.md), alerting rules and dashboards."""

from __future__ import annotations

from comind.apps import metrics as app_metrics
from comind.apps.cache_metrics import AppCacheCollector
from comind.backup import metrics as backup_metrics
from comind.flows import metrics as flow_metrics
from comind.gitops import metrics as gitops_metrics
from comind.governance import lineage_emitter, lineage_metrics
from comind.observe import dashboards, reference, rules, tracing
from comind.observe.metrics import REGISTRY
from comind.platform import reencrypt
from comind.queue import metrics as queue_metrics
from comind.spec import Spec
from comind.stores import object_crypto

COMPONENTS = (
    app_metrics,
    backup_metrics,
    flow_metrics,
    gitops_metrics,
    lineage_emitter,
    lineage_metrics,
    object_crypto,
    queue_metrics,
    reencrypt,
    tracing,
)  # imported: their metrics registered


def metrics_markdown() -> str:
    """docs/metrics.md as the code defines it."""
    # every module of the platform loaded: some define their metrics beside the code that
    # counts them, and the CLI loads the platform only for the commands that run it
    import comind.platform.runtime  # noqa: F401

    extra = [*queue_metrics.depth_families(), *backup_metrics.BackupCollector.families(),
             *AppCacheCollector.families().values()]  # fmt: skip
    return reference.markdown(reference.documented(REGISTRY, extra))


def alert_rules(spec: Spec) -> str:
    """Prometheus alerting rules (YAML): the built-in defaults and the spec's alerts."""
    return rules.render(spec)


def grafana_dashboards() -> dict[str, str]:
    """Grafana dashboards (JSON) by name."""
    return {name: dashboards.render(name) for name in dashboards.DASHBOARDS}
