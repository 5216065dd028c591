"""Pipelining the stages of a restore: each stage's items made by a thread of its own, a few
ahead of the next stage, so reading the store, decrypting and decompressing, and unpacking
overlap (file reads, zstd and the pipe to ``tar`` release the GIL)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
DEPTH = 4  # items made ahead: a few MiB each, so memory stays bounded
PUT_WAIT = 0.1  # seconds: how soon a producer notices that its consumer stopped


def ahead(items: Iterable[T], depth: int = DEPTH) -> Iterator[T]:
    """``items``, produced by a thread of their own up to ``depth`` ahead of the consumer.
    An exception in the producer is raised in the consumer; a consumer that stops early
    stops the producer at its next item."""
    handoff: queue.Queue[tuple[bool, object]] = queue.Queue(depth)
    stop = threading.Event()

    def put(last: bool, item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put((last, item), timeout=PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(False, item):
                    return
            put(True, None)
        except BaseException as exc:  # handed over, raised where the items are used
            put(True, exc)

    threading.Thread(target=produce, name="restore-ahead", daemon=True).start()
    try:
        while True:
            last, item = handoff.get()
            if last:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]  # what ``items`` yielded
    finally:
        stop.set()
