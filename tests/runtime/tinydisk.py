"""A disk that fills up for real, for the tests that need one: a tmpfs
mounted for one test, and a filler file that fills it. Mounting needs root:
elsewhere the tests that use it skip, saying so."""

from __future__ import annotations

import gc
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class TinyDisk:
    """A tmpfs mounted for one test, and a filler file that fills it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def url(self, name: str = "wfc.db") -> str:
        return f"sqlite:///{self.root / name}"

    def free_bytes(self) -> int:
        found = os.statvfs(self.root)
        return found.f_bavail * found.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Fill the disk, leaving ``leave`` bytes free (0: to its last byte)."""
        self.free()
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            left = self.free_bytes() - leave
            chunk = b"\0" * 65536
            while left > 0:
                try:
                    left -= os.write(fd, chunk[: min(left, len(chunk))])
                except OSError:  # full: done
                    break
        finally:
            os.close(fd)
        assert self.free_bytes() <= leave + 4096

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def mount_tiny_disk(folder: Path, size: str) -> Iterator[TinyDisk]:
    """A tmpfs of ``size`` mounted on ``folder`` for the test, unmounted after
    it even when it failed; the test is skipped where it cannot be mounted."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (a real, tiny file system to fill up)")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"needs root to mount a tmpfs: mount failed ({mounted.stderr.strip() or mounted.returncode})")
    try:
        yield TinyDisk(folder)
    finally:
        gc.collect()  # connections of stores a failed test left open
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
