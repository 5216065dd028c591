"""Every backup restore-tested, automatically: a thread of the platform takes the oldest
complete backup no restore has tested yet (so each is tested minutes after it is taken,
well within the hour the alert allows), and re-tests the newest backup of each kind once its
last test is older than ``retest`` (stored bytes rot; a test proves them again).

The tests run on a budget: the thread, and every process it starts (the restored cluster,
``pg_restore``, ``pg_amcheck``, ``redis-server``), run at CPU nice 10 and the lowest
best-effort I/O priority, so the live engines win when they compete. One test at a time.
"""

from __future__ import annotations

import logging
import os
import threading

import psutil

from comind.backup.catalog import BackupCatalog
from comind.backup.metrics import TESTS
from comind.backup.verify import Report, Verifier

log = logging.getLogger("comind.backup.tester")
NICE = 10
IDLE_WAIT = 30.0  # seconds between looks when nothing is due


class RestoreTester:
    def __init__(self, verifier: Verifier, catalog: BackupCatalog, retest_seconds: float) -> None:
        self.verifier, self.catalog, self.retest = verifier, catalog, retest_seconds
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="comind-restore-tests",
                                        daemon=True)  # fmt: skip

    def step(self) -> Report | None:
        """Test the backup that is due (None: none is)."""
        entry = self.catalog.due_for_test(self.retest)
        if entry is None or entry.manifest is None:
            return None
        report = self.verifier.run(entry.manifest)
        TESTS.labels(entry.kind, "passed" if report.ok else "failed").inc()
        # only the outcome: the problems can hold text the app's code wrote (a policy's
        # RAISE), which the catalog keeps for platform operators and the log would show to
        # every viewer (`comind backup ls` shows them where allowed)
        log.log(logging.INFO if report.ok else logging.ERROR, "restore test of %s: %s",
                entry.id, "passed" if report.ok else f"failed ({len(report.problems)} "
                "problem(s); see `comind backup ls`)")  # fmt: skip
        return report

    def wake(self) -> None:
        """A backup was taken: look now, not at the next round."""
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=600)

    def _loop(self) -> None:
        lower_priority()
        while not self._stop.is_set():
            try:
                tested = self.step()
            except Exception as exc:  # the database restarting: look again later
                log.warning("restore test not run: %s", exc)
                tested = None
            if tested is None:
                self._wake.wait(IDLE_WAIT)
                self._wake.clear()


def lower_priority() -> None:
    """This thread (and what it starts from now on) at nice ``NICE`` and the lowest
    best-effort I/O priority; on Linux both are per thread and inherited by children."""
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, NICE)
        psutil.Process(thread).ionice(psutil.IOPRIO_CLASS_BE, 7)
    except (OSError, psutil.Error, AttributeError) as exc:  # not Linux, or not allowed
        log.debug("restore tests run at normal priority: %s", exc)
