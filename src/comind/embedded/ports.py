"""Choosing TCP ports: a pinned port must be free, an unpinned one is picked once and kept."""

from __future__ import annotations

import socket
from pathlib import Path

from comind.embedded.engine import EngineError


def is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def choose(host: str, *, pinned: int, record: Path, setting: str) -> int:
    """The port to use: ``pinned`` if set (and free), else the recorded one if free, else new.

    The choice is written to ``record`` so clients find the engine at the same address
    after a restart whenever possible.
    """
    if pinned:
        if not is_free(host, pinned):
            raise EngineError(f"port {pinned} on {host} is taken; set {setting} to a free port")
        port = pinned
    else:
        recorded = _read(record)
        port = recorded if recorded and is_free(host, recorded) else free_port(host)
    record.write_text(str(port))
    return port


def _read(record: Path) -> int | None:
    try:
        text = record.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None
