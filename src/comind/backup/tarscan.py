"""One member of a tar stream caught on its way past: ``pg_basebackup -D - -Ft`` appends its
``backup_manifest`` to the tar it streams, and an incremental backup needs the parent's
manifest as a file. Reading headers only (the data of other members is skipped by
arithmetic) costs nothing next to compressing the stream.
"""

from __future__ import annotations

BLOCK = 512


def _size(header: bytes) -> int:
    field = header[124:136]
    if field[0] & 0x80:  # base-256, for members of 8 GiB and more
        return int.from_bytes(field[1:], "big")
    text = field.rstrip(b"\0 ").strip()
    return int(text, 8) if text else 0


class MemberCatcher:
    """Feed it the stream's blocks in order; ``found`` then holds the wanted member's bytes."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.found: bytes | None = None
        self._header = bytearray()
        self._data = 0  # bytes of the current member's data still to come
        self._pad = 0  # then padding up to the block boundary
        self._catch: bytearray | None = None
        self._ended = False

    def feed(self, chunk: bytes) -> None:
        view, pos = memoryview(chunk), 0
        while pos < len(view) and not self._ended:
            if self._data:
                n = min(self._data, len(view) - pos)
                if self._catch is not None:
                    self._catch += view[pos : pos + n]
                self._data -= n
                pos += n
                if not self._data and self._catch is not None:
                    self.found, self._catch = bytes(self._catch), None
            elif self._pad:
                n = min(self._pad, len(view) - pos)
                self._pad -= n
                pos += n
            else:
                n = min(BLOCK - len(self._header), len(view) - pos)
                self._header += view[pos : pos + n]
                pos += n
                if len(self._header) == BLOCK:
                    self._start_member(bytes(self._header))
                    self._header.clear()

    def _start_member(self, header: bytes) -> None:
        if not header.strip(b"\0"):
            self._ended = True  # the end-of-archive marker
            return
        size = _size(header)
        self._data, self._pad = size, -size % BLOCK
        name = header[:100].rstrip(b"\0")
        if name == self.name or name == b"./" + self.name:
            self._catch = bytearray()
            if size == 0:
                self.found, self._catch = b"", None
