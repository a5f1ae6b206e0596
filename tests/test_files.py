"""write_atomically: the old file survives any failed write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinygrad_edu import _files
from tinygrad_edu._files import write_atomically


def test_writes_text_and_bytes(tmp_path: Path) -> None:
    write_atomically(tmp_path / "a.txt", "héllo")
    write_atomically(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.json"
    target.write_text("good", encoding="utf-8")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomically(target, "x" * 100_000)
    assert target.read_text(encoding="utf-8") == "good"
    assert os.listdir(tmp_path) == ["model.json"]


def test_a_new_file_gets_the_usual_permissions_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    umask = os.umask(0o022)
    try:
        write_atomically(tmp_path / "new.txt", "a")
        old = tmp_path / "old.txt"
        old.write_text("x", encoding="utf-8")
        old.chmod(0o640)
        write_atomically(old, "y")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    assert old.stat().st_mode & 0o777 == 0o640
