"""Cancelling what a PostgreSQL store waits for: a statement held up by
another session's lock gives way at once to a cancellation or to an
interrupt (Ctrl-C and SIGTERM in the command line), not at the end of the
lock wait, and nothing of its transaction is written; a ``COMMIT`` hit by
either is never abandoned halfway: it is known committed or rolled back.

Every test waits with a long lock wait (30 s) while another session holds a
lock, and needs the cancellation to act within a few seconds. Each works in
a schema of its own (the ``pg`` fixture) and skips without
``WFC_TEST_POSTGRES_URL``. The command line's own tests, with real
processes and signals, are in tests/cli/test_postgres_ctrl_c.py.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from rtdb import Db, held
from rtspec import exit_, spec, wait

from wfc.runtime import Engine, RunStatus
from wfc.runtime.errors import StoreError
from wfc.runtime.store import Store, TimerRecord, open_store
from wfc.runtime.store.postgres import interrupt_statements

pytestmark = pytest.mark.anyio

#: Long enough that a test waiting it out fails its time limits.
LONG_WAIT = "&lock_timeout=30"
#: What "at once" means here: well under the lock wait, with room for a busy machine.
PROMPT = 5.0
WAITS = spec("waits", [("go", wait("go")), ("end", exit_())])


async def waiting_run(pg: Db) -> None:
    """Run ``r-1``, waiting for the event ``go``, stored by an engine since closed."""
    async with Engine.open(pg.url + LONG_WAIT, serve=False) as engine:
        await engine.deploy(WAITS)
        await engine.start("waits", run_id="r-1")


def run_rows(pg: Db) -> list[tuple[Any, ...]]:
    return pg.rows("SELECT id, status, version FROM runs ORDER BY id")


def counts(pg: Db) -> tuple[Any, ...]:
    return pg.rows(
        "SELECT (SELECT count(*) FROM journal), (SELECT count(*) FROM events), (SELECT count(*) FROM timers), "
        "(SELECT count(*) FROM specs)"
    )[0]


async def _open(pg: Db) -> Store:
    return await open_store(pg.url + LONG_WAIT, time.time())


# ---------------------------------------------------------------- an interrupt


async def test_an_interrupt_cuts_short_a_change_waiting_for_the_run_row_and_writes_nothing(pg: Db) -> None:
    async with Engine.open(pg.url + LONG_WAIT, serve=False) as engine:
        await engine.deploy(WAITS)
        await engine.start("waits", run_id="r-1")
        before, written = run_rows(pg), counts(pg)
        failures: list[BaseException] = []

        async def cancel() -> None:
            try:
                await engine.cancel("r-1", reason="stop")
            except StoreError as exc:
                failures.append(exc)

        async with held(pg, "SELECT * FROM {schema}.runs WHERE id = 'r-1' FOR UPDATE") as lock:
            with anyio.fail_after(PROMPT + 20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(cancel)
                    await lock.blocking()
                    began = time.monotonic()
                    interrupt_statements()
                waited = time.monotonic() - began
            assert waited < PROMPT, f"the interrupted change took {waited:.1f}s"
            [failure] = failures
            assert "cancelled" in str(failure) and "nothing of its transaction was written" in str(failure)
            assert (run_rows(pg), counts(pg)) == (before, written)  # nothing half done, even with the lock held
        assert (run_rows(pg), counts(pg)) == (before, written)
        # The store goes on: what is asked once the lock is gone goes through.
        info = await engine.cancel("r-1", reason="stop")
        assert info.status is RunStatus.CANCELLED
    assert pg.rows("SELECT status FROM runs") == [("CANCELLED",)]


async def test_an_interrupt_cuts_short_a_flush_waiting_for_a_table_lock(pg: Db) -> None:
    store = await _open(pg)
    try:
        async with held(pg, "LOCK TABLE {schema}.timers IN SHARE MODE") as lock:
            failures: list[BaseException] = []

            async def write() -> None:
                try:
                    async with store.transaction() as tx:
                        tx.batch.put_timer(TimerRecord("r-1", 1, 10.0))
                except Exception as exc:
                    failures.append(exc)

            with anyio.fail_after(PROMPT + 20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(write)
                    await lock.blocking()
                    began = time.monotonic()
                    interrupt_statements()
                waited = time.monotonic() - began
        assert waited < PROMPT, f"the interrupted flush took {waited:.1f}s"
        [failure] = failures
        assert getattr(failure, "sqlstate", None) == "57014"  # query_canceled: rolled back
        assert pg.rows("SELECT count(*) FROM timers") == [(0,)]
    finally:
        await store.close()


async def test_an_interrupted_commit_waiting_for_a_lock_is_rolled_back_and_said_so(pg: Db) -> None:
    await waiting_run(pg)
    store = await _open(pg)
    try:
        # The event's run is checked at COMMIT (a deferred foreign key), which
        # waits for the run's row while another session holds it.
        async with held(pg, "SELECT * FROM {schema}.runs WHERE id = 'r-1' FOR UPDATE") as lock:
            failures: list[BaseException] = []
            done: list[str] = []

            async def write() -> None:
                try:
                    async with store.transaction() as tx:
                        await tx.connection.fetch(
                            "INSERT INTO events (event_id, name, payload, run_id, created_at) "
                            "VALUES ('e-1', 'go', 'null', 'r-1', 1.0)"
                        )
                    done.append("committed")
                except Exception as exc:
                    failures.append(exc)

            with anyio.fail_after(PROMPT + 20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(write)
                    await lock.blocking()
                    began = time.monotonic()
                    interrupt_statements()
                waited = time.monotonic() - began
        assert waited < PROMPT, f"the interrupted COMMIT took {waited:.1f}s"
        assert done == [] and len(failures) == 1, (done, failures)
        assert getattr(failures[0], "sqlstate", None) == "57014"  # the COMMIT's own answer: rolled back
        assert pg.rows("SELECT count(*) FROM events") == [(0,)]
        # The connection was left usable, and the next commit goes through.
        async with store.transaction() as tx:
            await tx.connection.fetch(
                "INSERT INTO events (event_id, name, payload, run_id, created_at) "
                "VALUES ('e-2', 'go', 'null', 'r-1', 1.0)"
            )
        assert pg.rows("SELECT event_id FROM events") == [("e-2",)]
    finally:
        await store.close()


# ---------------------------------------------------------------- a cancellation


async def test_a_cancelled_commit_waiting_for_a_lock_ends_at_once_known_rolled_back(pg: Db) -> None:
    await waiting_run(pg)
    store = await _open(pg)
    try:
        async with held(pg, "SELECT * FROM {schema}.runs WHERE id = 'r-1' FOR UPDATE") as lock:
            outcome: list[str] = []

            async def write(scope: anyio.CancelScope) -> None:
                with scope:
                    async with store.transaction() as tx:
                        await tx.connection.fetch(
                            "INSERT INTO events (event_id, name, payload, run_id, created_at) "
                            "VALUES ('e-1', 'go', 'null', 'r-1', 1.0)"
                        )
                    outcome.append("committed")
                outcome.append("cancelled" if scope.cancelled_caught else "ended")

            scope = anyio.CancelScope()
            # Without a way to cut the COMMIT short, it would wait out the lock:
            # the holder gives up after PROMPT + 5 s, so the test ends either way.
            async with anyio.create_task_group() as tg:
                tg.start_soon(write, scope)
                await lock.blocking()
                began = time.monotonic()
                scope.cancel()
                with anyio.move_on_after(PROMPT + 5):
                    while not outcome:
                        await anyio.sleep(0.02)
                waited = time.monotonic() - began
                if not outcome:
                    await lock.conn.execute("ROLLBACK")
                    await lock.conn.execute("BEGIN")
        assert waited < PROMPT, f"the cancelled COMMIT held the cancellation off for {waited:.1f}s"
        assert outcome == ["cancelled"]
        assert pg.rows("SELECT count(*) FROM events") == [(0,)]  # known not committed: it is not there
    finally:
        await store.close()


async def test_a_commit_that_went_through_stays_and_the_store_goes_on_after_an_interrupt(pg: Db) -> None:
    async with Engine.open(pg.url + LONG_WAIT, serve=False) as engine:
        await engine.deploy(WAITS)
        await engine.start("waits", run_id="r-1")
        interrupt_statements()  # nothing waits: nothing is cancelled, and what follows is quick
        assert (await engine.cancel("r-1")).status is RunStatus.CANCELLED
    assert pg.rows("SELECT id, status FROM runs") == [("r-1", "CANCELLED")]


# ---------------------------------------------------------------- the Python API


async def test_a_cancelled_engine_closes_at_once_while_its_statement_waits_for_a_lock(pg: Db) -> None:
    await waiting_run(pg)
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
