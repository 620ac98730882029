"""``/readyz`` of a server whose database answers reads but takes no writes:
the file on a disk filled up for real (a tiny tmpfs; the test skips where
it cannot be mounted). Ready before, 503 saying the disk is full while it
is, ready again once there is room; reads answer all the while."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from tinydisk import TinyDisk, mount_tiny_disk

from wfc.runtime import _engine as engine_module


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """A 1 MiB tmpfs."""
    yield from mount_tiny_disk(tmp_path / "disk", "1m")


def test_readyz_says_503_while_the_disk_is_full_and_ready_once_it_has_room(
    disk: TinyDisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srvlive import start_server, stop_server

    monkeypatch.setattr(engine_module, "WRITES_TRUSTED_FOR", 0.0)  # a probe at every call, as after 15 s idle
    path = disk.root / "wfc.db"
    live = start_server(f"sqlite:///{path}", serve=False)  # a client: no heartbeat of its own
    try:
        with live.client() as client:
            assert client.get("/readyz").json() == {"status": "ready", "serving_engines": 0}
            disk.fill()
            full = client.get("/readyz")
            assert full.status_code == 503
            assert "the database takes no writes" in full.json()["detail"] and "disk is full" in full.json()["detail"]
            assert client.get("/api/v1/runs").status_code == 200  # reads answer all the while
            disk.free()
            assert client.get("/readyz").json() == {"status": "ready", "serving_engines": 0}
    finally:
        stop_server(live)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
