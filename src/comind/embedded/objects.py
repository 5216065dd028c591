"""The embedded object store: a directory under the state directory, checked for writes."""

from __future__ import annotations

import os

from comind.embedded.engine import Engine, EngineInfo
from comind.embedded.home import StateDir

VERSION = "file/1"


class ObjectsEngine(Engine):
    name = "objects"

    def __init__(self, home: StateDir) -> None:
        self.root = home.objects

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        """Nothing runs: the store is plain files."""

    def alive(self) -> bool:
        return self.root.is_dir()

    def check(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)

    def info(self) -> EngineInfo:
        return EngineInfo(pid=None, address=self.root.as_uri(), version=VERSION)
