"""A flow worker process for the reliability tests (run as a script, killed with SIGKILL).

It builds the flow engines exactly as the ``kit`` fixture does, over the spec the test
wrote into ``FLOW_ROOT``, and then either serves a stream flow until SIGTERM
(``stream NAME``; with ``FLOW_READY_DIR`` it first creates a file named by its pid
there) or runs one batch partition (``batch NAME PARTITION``).

``FLOW_HANG_BEFORE_RENAME`` (a path) makes the object store stop right before it renames a
fully written temp file into place: the path is created and the process sleeps there, so
the test can kill it in the middle of an object write.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import types
from pathlib import Path
from typing import Any

from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.worker import serve, stop_on_signals
from comind.queue.layer import MessageLayer
from comind.spec import load_spec
from comind.stores import object_disk
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget


def hang_before_rename(marker: Path) -> None:
    """Replace ``os`` in the object store's module only: its rename announces and hangs."""

    def replace(src: Any, dst: Any) -> None:
        marker.write_text(f"{src}\n{dst}\n")
        while True:
            time.sleep(60)

    shim = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    shim.replace = replace
    setattr(object_disk, "os", shim)  # noqa: B010 - only this module sees the hanging rename


def main() -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {os.getpid()} %(message)s")
    pg = PgTarget(**json.loads(os.environ["FLOW_PG"]))
    root = Path(os.environ["FLOW_ROOT"])
    if marker := os.environ.get("FLOW_HANG_BEFORE_RENAME"):
        hang_before_rename(Path(marker))
    layer = MessageLayer.open(pg, max_connections=4)
    engines = FlowEngines(layer, pg, FileObjectStore(root / "objects"), None)
    builder = FlowBuilder(load_spec(root), root, engines)
    try:
        mode, name, *rest = sys.argv[1:]
        if mode == "stream":
            stop = stop_on_signals()
            if ready := os.environ.get("FLOW_READY_DIR"):
                (Path(ready) / str(os.getpid())).touch()
            serve(builder, name, stop)
        else:
            result = BatchRunner(name, builder).run(rest[0])
            print(json.dumps(result.__dict__), flush=True)
    finally:
        engines.close()
        layer.close()


if __name__ == "__main__":
    main()
