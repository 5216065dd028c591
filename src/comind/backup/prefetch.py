"""The archived WAL a replay reads, fetched ahead: a thread decrypts the files into a
directory while the base backup unpacks and while PostgreSQL replays, instead of all of them
before the server starts. The ``restore_command`` waits for a file until the fetch is done;
a file the archive does not have is then refused, which PostgreSQL reads as the end of the
archive. Timeline histories come first (the server asks for them as it starts). A fetch that
fails ends the wait too, and ``check`` raises it, so a replay never passes for whole."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import threading
from pathlib import Path

from comind.backup.errors import BackupError
from comind.backup.wal import WalArchive
from comind.embedded.osuser import RunAs

log = logging.getLogger("comind.backup.prefetch")
DONE = ".fetched"  # made when every file is in (or the fetch failed)


class WalPrefetch:
    def __init__(self, archive: WalArchive, since: str, into: Path, run_as: RunAs) -> None:
        names = archive.since(since)
        self.names = [n for n in names if n.endswith(".history")] + [
            n for n in names if not n.endswith(".history")]  # fmt: skip
        self.archive, self.into, self.run_as = archive, into, run_as
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="wal-prefetch", daemon=True)

    def start(self) -> WalPrefetch:
        shutil.rmtree(self.into, ignore_errors=True)
        self.into.mkdir(mode=0o700, parents=True)
        if self.run_as.gid is not None:  # the server reads the files; only root writes there,
            # so its user cannot plant a link for root to write a fetched file through
            os.chown(self.into, os.getuid(), self.run_as.gid, follow_symlinks=False)
            os.chmod(self.into, 0o750)
        self._thread.start()
        return self

    @property
    def restore_command(self) -> str:
        where = shlex.quote(str(self.into))
        return (f'f={where}/%f; while [ ! -e "$f" ] && [ ! -e {where}/{DONE} ]; '
                f'do sleep 0.05; done; cp "$f" "%p"')  # fmt: skip

    def check(self) -> None:
        """Raise what made the fetch fail (the replay stopped short of the archive's end)."""
        if self.error is not None:
            raise BackupError(f"fetching the archived WAL failed: {self.error}")

    def close(self) -> None:
        """Stop fetching (a replay that reached its target needs no more) and remove the
        fetched files."""
        self._stop.set()
        self._thread.join(timeout=60)
        shutil.rmtree(self.into, ignore_errors=True)

    def _fetch(self) -> None:
        try:
            for name in self.names:
                if self._stop.is_set():
                    return
                part = self.into / f"{name}.part"
                self.archive.fetch_one(name, part)
                self.run_as.chown(part)
                part.rename(self.into / name)  # whole, or not there
        except BaseException as exc:  # raised by check(), after the server stops waiting
            log.warning("WAL prefetch failed: %s", exc)
            self.error = exc
        finally:
            os.close(os.open(self.into / DONE, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o640))
