"""An artifact unpacked as an app's code: its files and folders, private, nothing outside
the target; an archive with a path out of it, a link or a device is refused whole."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from comind.cicd.unpack import unpack
from comind.errors import ComindError


def archive(*members: tuple[str, bytes | None], link: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o4777
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o4755  # set-uid: dropped
                tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("escape")
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
    return out.getvalue()


def test_files_and_folders_land_private_inside_the_target(tmp_path: Path) -> None:
    data = archive(("app", None), ("app/main.py", b"print('hi')\n"))
    into = unpack([data[:100], data[100:]], tmp_path / "cache" / "d1", "greeter@1")
    assert (into / "app" / "main.py").read_bytes() == b"print('hi')\n"
    assert (into / "app" / "main.py").stat().st_mode & 0o7777 == 0o700
    assert (into / "app").stat().st_mode & 0o7777 == 0o700
    assert unpack([b"not read again"], into, "greeter@1") == into  # once per content


@pytest.mark.parametrize("bad", [
    archive(("../outside.py", b"x")),
    archive(("/etc/owned", b"x")),
    archive(("ok.py", b"x"), link="/etc/passwd"),
])  # fmt: skip
def test_an_archive_reaching_out_is_refused_whole(tmp_path: Path, bad: bytes) -> None:
    with pytest.raises(ComindError, match="refused member"):
        unpack([bad], tmp_path / "cache" / "d2", "evil@1")
    assert not (tmp_path / "cache" / "d2").exists() and not (tmp_path / "outside.py").exists()


def test_something_else_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ComindError, match="not a tar archive"):
        unpack([b"PK\x03\x04 a zip"], tmp_path / "cache" / "d3", "zip@1")
