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
