"""A flow worker process: runs one flow until SIGTERM/SIGINT, then finishes the batch in
hand (drain) and exits. Stream and event flows loop over batches; batch flows wait for
their cron schedule. Several workers of one flow (on one machine or many, against the
same PostgreSQL) share its source safely: queue leases hand each message to one worker.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder
from comind.flows.lineage_runs import StreamRun
from comind.stores.waking import Stop

log = logging.getLogger("comind.flows.worker")
STOPPING = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals() -> Stop:
    """A stop set when SIGTERM or SIGINT arrives, which also ends an idle source's wait at
    once. Setting it takes locks, so it is set on a thread of its own, never in a handler
    (which may interrupt the main thread holding one): Python writes each signal's number
    to a wake-up pipe, which that thread reads. Call from the main thread."""
    stop = Stop()
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write)
    for signum in STOPPING:
        signal.signal(signum, _noted)  # a Python handler: the process lives on, the pipe hears
    threading.Thread(target=_stop_on, args=(read, stop), name="comind-signals", daemon=True).start()
    return stop


def _noted(signum: int, frame: FrameType | None) -> None:
    """The work is done by ``_stop_on``, reading the wake-up pipe."""


def _stop_on(read: int, stop: Stop) -> None:
    while (signum := os.read(read, 1)[0]) not in STOPPING:
        continue  # another signal with a Python handler (app code may install one)
    log.info("stopping after the batch in hand (signal %d)", signum)
    stop.set()


def serve(builder: FlowBuilder, name: str, stop: threading.Event) -> None:
    flow = builder.flow(name)
    log.info("flow %s (%s) starting", name, flow.kind)
    if flow.kind == "batch":
        BatchRunner(name, builder).serve(stop)
    else:
        with StreamRun(builder, name) as run:  # one OpenLineage run per worker lifetime
            run.follow(builder.runner(name)).run(stop)
    log.info("flow %s stopped", name)
