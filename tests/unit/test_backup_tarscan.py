"""Catching one member of a tar stream fed in arbitrary pieces."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from comind.backup.tarscan import MemberCatcher


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("piece", [1, 511, 512, 513, 4096, 1 << 20])
def test_the_member_is_caught_whatever_the_chunking(piece: int) -> None:
    wanted = b'{"PostgreSQL-Backup-Manifest-Version": 2}\n' * 300
    stream = _tar({"base/1/1259": os.urandom(70_001), "backup_manifest": wanted,
                   "global/pg_control": b"x" * 512})  # fmt: skip
    catcher = MemberCatcher("backup_manifest")
    for i in range(0, len(stream), piece):
        catcher.feed(stream[i : i + piece])
    assert catcher.found == wanted


def test_a_stream_without_it_finds_nothing_and_a_similar_name_is_not_it() -> None:
    catcher = MemberCatcher("backup_manifest")
    catcher.feed(_tar({"backup_manifest.old": b"old", "PG_VERSION": b"18\n"}))
    assert catcher.found is None


def test_an_empty_member_is_found_empty() -> None:
    catcher = MemberCatcher("backup_manifest")
    catcher.feed(_tar({"backup_manifest": b""}))
    assert catcher.found == b""
