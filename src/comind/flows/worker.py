"""A flow worker process: runs one flow until SIGTERM/SIGINT, then finishes the batch in
hand (drain) and exits. Stream and event flows loop over batches; batch flows wait for
their cron schedule. Several workers of one flow (on one machine or many, against the
same PostgreSQL) share its source safely: queue leases hand each message to one worker.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder
from comind.flows.lineage_runs import StreamRun

log = logging.getLogger("comind.flows.worker")


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("stopping after the batch in hand (signal %d)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def serve(builder: FlowBuilder, name: str, stop: threading.Event) -> None:
    flow = builder.flow(name)
    log.info("flow %s (%s) starting", name, flow.kind)
    if flow.kind == "batch":
        BatchRunner(name, builder).serve(stop)
    else:
        with StreamRun(builder, name) as run:  # one OpenLineage run per worker lifetime
            run.follow(builder.runner(name)).run(stop)
    log.info("flow %s stopped", name)
