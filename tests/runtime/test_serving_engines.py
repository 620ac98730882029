"""``Engine.serving_engines``: how the CLI knows whether a RUNNING run is
executed by anyone. Serving engines register and count; clients do not; an
engine whose process is gone or whose heartbeat is older than the lease does
not count. Both stores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from rtdb import Db

from wfc.runtime import Engine
from wfc.runtime.store import EngineRecord

pytestmark = pytest.mark.anyio


async def test_serving_engines_count_and_clients_do_not(db_url: str, db: Db) -> None:
    async with Engine.open(db_url, serve=False) as client:
        assert await client.serving_engines() == 0
        async with Engine.open(db_url, poll_interval=0.05) as server:
            assert await server.serving_engines() == 1  # itself
            assert await client.serving_engines() == 1
            assert db.rows("SELECT count(*) FROM engines") == [(1,)]  # the client is not registered
        assert await client.serving_engines() == 0  # the server released its row on closing


def test_an_engine_is_alive_while_its_process_lives_and_its_heartbeat_is_fresh() -> None:
    now, here = time.time(), socket.gethostname()
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)  # fmt: skip
    fresh = EngineRecord(id="a", host=here, pid=os.getpid(), started_at=now, heartbeat_at=now - 5)
    assert fresh.alive(now, 30.0, here)
    assert not fresh.alive(now, 1.0, here)  # silent for longer than the lease
    assert not EngineRecord(id="b", host=here, pid=gone, started_at=now, heartbeat_at=now).alive(now, 30.0, here)
    # On another machine only the heartbeat tells.
    assert EngineRecord(id="c", host="elsewhere", pid=gone, started_at=now, heartbeat_at=now).alive(now, 30.0, here)
