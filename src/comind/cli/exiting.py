"""Leaving the ``comind`` process without the interpreter's teardown.

A command has closed what it opened by the time it returns (files in ``with`` blocks, pools,
engines, the worker's sources and sinks); what the interpreter does after that (clearing every
module, collecting what they held) changes nothing outside the process, yet took 0.1-0.3 s
per command, and over a second for a flow worker stopping beside others on a busy machine,
which a platform's stop waits for. So, as ``multiprocessing`` ends its children: the
``atexit`` handlers run (logging's flush among them), standard output and error are flushed,
then ``os._exit``. The interpreter's own exit is kept while a non-daemon thread is alive
(it waits for that thread) and under a profiler or tracer (which write their results then).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def leave(code: object = 0) -> NoReturn:
    """Exit with ``code`` as ``sys.exit`` would (None: 0; text: printed, then 1)."""
    status = _status(code)
    if _threads_to_wait_for() or sys.getprofile() or sys.gettrace():
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a reader gone: as exit does
            stream.flush()
    os._exit(status)


def _status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _threads_to_wait_for() -> bool:
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())
