"""The interface every queue backend offers the worker, the flow engine and apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from comind.queue.model import OutgoingMessage
from comind.queue.types import QueueStats, ReceivedMessage, SendResult


class Queues(Protocol):
    """Message operations on named queues (``postgres`` and ``sqs`` backends)."""

    def send(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]: ...

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait_seconds: int | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]: ...

    def delete(self, queue: str, receipt_handle: str) -> None: ...

    def change_visibility(self, queue: str, receipt_handle: str, timeout: int) -> None: ...

    def fail(self, queue: str, receipt_handle: str, *, error: str, retry_in: int) -> None: ...

    def stats(self, queue: str) -> QueueStats: ...


class QueueAdmin(Protocol):
    """Queue life cycle on a backend (what every backend offers; ``postgres`` offers more)."""

    def create(
        self,
        name: str,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str: ...

    def delete(self, name: str) -> None: ...

    def names(self, prefix: str = "", limit: int = 1000) -> list[str]: ...

    def attributes(self, name: str) -> dict[str, str]: ...

    def set_attributes(self, name: str, attributes: dict[str, str]) -> None: ...

    def purge(self, name: str) -> int: ...
