"""An engine whose caller is cancelled (a server shutting down, a timeout
around it) closes at once on PostgreSQL even while a statement of its waits
for a lock another session holds: closing cuts that statement short, its
transaction rolled back, rather than wait out the lock wait first. The
command line does the same on Ctrl-C (``tests/cli/test_postgres_ctrl_c.py``);
this is the Python API's path."""

from __future__ import annotations

import time

import anyio
import pytest
from rtdb import Db, held
from rtspec import exit_, spec, wait

from wfc.runtime import Engine

pytestmark = pytest.mark.anyio

#: Long enough that a close waiting it out fails the time limit.
LONG_WAIT = "&lock_timeout=30"
#: What "at once" means here: well under the 10 s a close waits for its
#: commit loop, with room for a busy machine.
PROMPT = 5.0
WAITS = spec("waits", [("go", wait("go")), ("end", exit_())])


async def test_a_cancelled_engine_closes_at_once_while_its_statement_waits_for_a_lock(pg: Db) -> None:
    async with Engine.open(pg.url + LONG_WAIT, serve=False) as engine:
        await engine.deploy(WAITS)
        await engine.start("waits", run_id="r-1")
    sent: list[str] = []
    scope = anyio.CancelScope()

    async def use_engine() -> None:
        with scope:
            async with Engine.open(pg.url + LONG_WAIT, serve=False) as engine:
                await engine.send_event("go", {}, run_id="r-1")  # waits for the run's row
                sent.append("sent")

    async with held(pg, "SELECT * FROM {schema}.runs WHERE id = 'r-1' FOR UPDATE") as lock:
        with anyio.fail_after(PROMPT + 30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(use_engine)
                await lock.blocking()
                began = time.monotonic()
                scope.cancel()
            took = time.monotonic() - began
    assert took < PROMPT, f"the cancelled engine took {took:.1f}s to close"
    assert sent == []
    assert pg.rows("SELECT count(*) FROM events") == [(0,)]
    assert pg.rows("SELECT status FROM runs") == [("RUNNING",)]
