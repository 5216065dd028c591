"""``python -m comind.apps.leash COMMAND``: run ``COMMAND`` under ``/bin/sh`` and kill its
whole process group when the thread that started the leash ends (a platform killed with
SIGKILL: its apps, flow workers and jobs must not outlive it; issue 19).

The kernel's parent-death signal (``PR_SET_PDEATHSIG``) reaches only one process, and a
shell does not always hand its pid to the command (``sh -c 'a; b'``, ``dash``): so the leash
takes the signal itself and passes it on to its group with SIGKILL. A process the command
moves to another group or session (a daemon) is not reached. Signals the supervisor sends
the group (SIGTERM to stop) reach the command as they did; the leash waits for it and exits
with its status.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1
ORPHANED = signal.SIGUSR2  # what the kernel sends the leash when its parent thread ends


def _kill_group(signum: int, frame: FrameType | None) -> None:
    os.killpg(0, signal.SIGKILL)


def _carry_on(signum: int, frame: FrameType | None) -> None:
    """The group's SIGTERM/SIGINT is for the command: the leash waits for it to end."""


def main() -> int:
    signal.signal(ORPHANED, _kill_group)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(ORPHANED), 0, 0, 0) != 0:
        print("comind leash: prctl failed; the command is not leashed", file=sys.stderr)
    if os.getppid() == 1:  # the parent died before the signal was armed
        return 137
    for stopping in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stopping, _carry_on)  # a handler, not SIG_IGN: the command keeps defaults
    code = subprocess.call(["/bin/sh", "-c", sys.argv[1]])
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
