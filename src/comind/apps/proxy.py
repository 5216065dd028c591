"""A TCP forwarder that owns an app's public port, so a rollout never closes it.

The runtime, not the app, listens on the declared port; each instance listens on an
internal port and the forwarder relays every accepted connection to the current target.
``switch`` changes the target for connections accepted from then on; connections already
relayed stay on their instance, and :meth:`Forwarder.wait_idle` lets the runtime wait
for them to finish before stopping the old instance. Choosing the target and counting
the connection happen under one lock, so a connection counted against the old target is
never missed by ``wait_idle`` after ``switch`` returns.

The forwarder runs an asyncio loop in a thread of its own: a slow client never blocks
the supervisor, and the supervisor's blocking work never delays traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections import Counter

CHUNK = 64 * 1024
START_TIMEOUT = 10.0


class Forwarder:
    """Relays ``host:port`` to ``host:<target>``; the target can change at any time."""

    def __init__(self, sock: socket.socket) -> None:
        self.host, self.port = sock.getsockname()[:2]
        self._target: int | None = None
        self._active: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"comind-forward-{self.port}", daemon=True
        )
        self._thread.start()
        serving = asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop)
        self._server = serving.result(START_TIMEOUT)

    @classmethod
    def listen(cls, host: str, port: int) -> Forwarder:
        """Listen on ``host:port`` now; raises OSError (e.g. the port is taken)."""
        return cls(socket.create_server((host, port), backlog=128))

    def switch(self, target: int) -> None:
        """Relay connections accepted from now on to ``target``."""
        with self._lock:
            self._target = target

    def wait_idle(self, target: int, timeout: float) -> bool:
        """Wait until no relayed connection to ``target`` is open (False on timeout)."""
        deadline = time.monotonic() + timeout
        while self._open_to(target):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Stop listening, drop every relayed connection and end the thread."""
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(START_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT)
        self._loop.close()

    def _open_to(self, target: int) -> int:
        with self._lock:
            return self._active[target]

    async def _serve(self, sock: socket.socket) -> asyncio.Server:
        return await asyncio.start_server(self._accepted, sock=sock)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            target = self._target
            if target is not None:
                self._active[target] += 1
        try:
            if target is not None:
                await self._relay(reader, writer, target)
        finally:
            await _close(writer)
            self._tasks.discard(task)
            if target is not None:
                with self._lock:
                    self._active[target] -= 1

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, target)
        except OSError:
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            await _close(up_writer)

    async def _shutdown(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


class PublicPort:
    """An app's declared port, held by a forwarder for as long as the app declares it."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._forwarder: Forwarder | None = None

    def listen(self, port: int | None) -> str | None:
        """Hold ``port`` (release it for None); None when held, else why it cannot be."""
        if self._forwarder is not None and self._forwarder.port == port:
            return None
        self.close()
        if port is None:
            return None
        try:
            self._forwarder = Forwarder.listen(self.host, port)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            return f"cannot listen on {self.host}:{port}: {reason}"
        return None

    def switch(self, target: int | None) -> None:
        """Send new connections to the instance on ``target`` (apps with a port only)."""
        if self._forwarder is not None and target is not None:
            self._forwarder.switch(target)

    def drain(self, target: int | None, timeout: float) -> None:
        """Wait up to ``timeout`` s for the connections relayed to ``target`` to end."""
        if self._forwarder is not None and target is not None:
            self._forwarder.wait_idle(target, timeout)

    def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.close()
            self._forwarder = None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close; a broken side ends both directions.

    Closing ``writer`` on error also ends the opposite pipe: its reader is the same
    socket, which then sees end of stream.
    """
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
