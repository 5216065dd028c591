"""The Prometheus Operator's resources: the control plane scraped (a ServiceMonitor), and the
alert rules the platform generates (built-in, the spec's backup objectives and its own
``alerts:``) as a PrometheusRule, the same groups ``comind observe rules`` writes."""

from __future__ import annotations

from typing import Any

from comind.apps.kubernetes.naming import COMPONENT, PART_OF, PLATFORM_TEAM, labels, metadata
from comind.observe.rules import rules
from comind.spec.model import Spec

Manifest = dict[str, Any]
CONTROL_PLANE = "control-plane"  # the component label of the control plane's Service


def monitoring_objects(spec: Spec, wave: int) -> list[Manifest]:
    name = spec.platform.name
    meta_labels = labels(spec, f"{name}-monitoring", "monitoring", PLATFORM_TEAM)
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": metadata(f"{name}-control-plane", meta_labels, wave),
        "spec": {
            "selector": {"matchLabels": {PART_OF: name, COMPONENT: CONTROL_PLANE}},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
        },
    }  # fmt: skip
    rule = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": metadata(f"{name}-alerts", meta_labels, wave),
        "spec": rules(spec),
    }  # fmt: skip
    return [monitor, rule]
