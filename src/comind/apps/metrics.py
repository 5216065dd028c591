"""The app runtime's metrics, registered in the platform's one registry.

``comind_app_up`` says whether an app answers its health probe now; the two counters
count crash restarts and deploy outcomes, so a dashboard can tell a crash-looping app
from a bad revision that was refused.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from comind.observe.metrics import REGISTRY

APP_UP = Gauge(
    "comind_app_up",
    "1 when the app's serving process passes its health probe, else 0.",
    ["app"],
    registry=REGISTRY,
)
APP_RESTARTS = Counter(
    "comind_app_restarts_total",
    "Times the runtime restarted an app process after it exited.",
    ["app"],
    registry=REGISTRY,
)
APP_DEPLOYS = Counter(
    "comind_app_deploys_total",
    "Revisions rolled out, by outcome (succeeded: became healthy; failed: never did).",
    ["app", "outcome"],
    registry=REGISTRY,
)
STRAYS_KILLED = Counter(
    "comind_app_strays_killed_total",
    "Processes of an app's or a flow's OS user that no supervised process or job led to (a "
    "daemon a job or an instance left behind), killed.",
    ["account"],
    registry=REGISTRY,
)
