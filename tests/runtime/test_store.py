"""The Store interface, on every store (the conformance suite): one atomic
transaction per batch, version conflicts, leases, correlated events. The same
tests run on SQLite and, with WFC_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import anyio
import pytest
from rtdb import Db
from rtstore import run_write as _run
from rtstore import seed as _seed
from rtstore import task_record as _task

from wfc.runtime.errors import StaleRunError
from wfc.runtime.store import JournalRecord, TimerRecord, open_store

pytestmark = pytest.mark.anyio


async def test_a_transaction_is_all_or_nothing(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            tx.batch.runs["r2"] = _run("r2", None)
            tx.batch.journal.append(JournalRecord("r2", 1, 1.0, 0, None, "RUN_STARTED", None, b"{}"))
            tx.batch.put_task(_task("r2/0/n/1#1", "r2"))
            await tx.put_wait("r1", 0, "paid", "k", 1.0)  # an immediate write, rolled back too
            raise RuntimeError("crash before commit")
    assert await store.get_run("r2") is None
    assert db.rows("SELECT count(*) FROM tasks") == [(0,)]
    assert db.rows("SELECT count(*) FROM event_waits") == [(0,)]
    await store.close()


async def test_a_stale_version_is_a_conflict_and_nothing_is_written(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        tx.batch.runs["r1"] = _run("r1", 1, "COMPLETED")
    record = await store.get_run("r1")
    assert record is not None and (record.version, record.status) == (2, "COMPLETED")
    with pytest.raises(StaleRunError) as info:
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 1, "FAILED")  # read at version 1, but it is 2 now
            tx.batch.journal.append(JournalRecord("r1", 9, 1.0, 0, None, "X", None, b"{}"))
    assert info.value.run_ids == ("r1",)
    assert db.rows("SELECT status, version FROM runs") == [("COMPLETED", 2)]
    assert db.rows("SELECT count(*) FROM journal") == [(0,)]
    await store.close()


async def test_a_failed_or_cancelled_transaction_leaves_the_next_one_free(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    cancelled: list[bool] = []

    async def cut_short() -> None:
        with anyio.move_on_after(0.05) as waited:
            async with store.transaction() as tx:
                tx.batch.runs["r1"] = _run("r1", 1, "FAILED")
                await anyio.sleep(5)
        cancelled.append(waited.cancelled_caught)

    with anyio.fail_after(10):  # a transaction that kept the store's write lock makes the next one wait
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.put_wait("r1", 0, "paid", "k", 1.0)  # an immediate write: rolled back, not left open
                raise RuntimeError("the block failed")
        with pytest.raises(StaleRunError):
            async with store.transaction() as tx:
                tx.batch.runs["r1"] = _run("r1", 7)  # the commit fails
        async with store.transaction(), anyio.create_task_group() as tg:
            tg.start_soon(cut_short)  # cancelled while it waits for this one
        with anyio.move_on_after(0.05) as inside:
            async with store.transaction() as tx:
                await tx.put_wait("r1", 0, "shipped", "k", 1.0)
                await anyio.sleep(5)  # cancelled inside the block
        assert cancelled == [True] and inside.cancelled_caught
        async with store.transaction() as tx:
            tx.batch.runs["r1"] = _run("r1", 1, "COMPLETED")
    assert db.rows("SELECT status, version FROM runs") == [("COMPLETED", 2)]
    assert db.rows("SELECT count(*) FROM event_waits") == [(0,)]
    await store.close()


async def test_the_last_write_to_a_task_or_timer_in_a_batch_wins(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        tx.batch.put_task(_task("a#1"))
        tx.batch.drop_task("a#1")
        tx.batch.put_task(_task("b#1"))
        tx.batch.put_timer(TimerRecord("r1", 1, 10.0))
        tx.batch.drop_timer("r1", 1)
        tx.batch.put_timer(TimerRecord("r1", 2, 20.0))
    assert db.rows("SELECT dispatch_id FROM tasks") == [("b#1",)]
    assert db.rows("SELECT timer FROM timers") == [(2,)]
    assert await store.next_timer_due() == 20.0
    assert [t.timer for t in await store.due_timers(25.0, 10)] == [2]
    assert await store.due_timers(15.0, 10) == []
    async with store.transaction() as tx:
        assert await tx.take_timer("r1", 2) is True
        assert await tx.take_timer("r1", 2) is False
    await store.close()


async def test_taking_many_timers_deletes_those_there_and_tells_which_in_the_transaction(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    await _seed(store, "r2")
    async with store.transaction() as tx:
        for timer in range(1, 1201):  # more than one statement's worth of keys on SQLite
            tx.batch.put_timer(TimerRecord("r1", timer, float(timer)))
        tx.batch.put_timer(TimerRecord("r2", 1, 1.0))
    wanted = [("r1", t) for t in range(2, 1202)] + [("r2", 1), ("r2", 2), ("r1", 2)]  # 1201, r2/2: not there
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.take_timers(wanted)
            raise RuntimeError("crash before commit: the timers stay")
    assert db.rows("SELECT count(*) FROM timers") == [(1201,)]
    async with store.transaction() as tx:
        taken = await tx.take_timers(wanted)
        assert taken == {("r1", t) for t in range(2, 1201)} | {("r2", 1)}
        assert await tx.take_timers([("r1", 5)]) == set()  # gone in this transaction already
        assert await tx.take_timers([]) == set()
    assert db.rows("SELECT run_id, timer FROM timers") == [("r1", 1)]
    await store.close()


async def test_correlated_events_are_claimed_oldest_first_once(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        await tx.insert_event("e1", "paid", "k", b"1", None, 1.0)
        await tx.insert_event("e2", "paid", "k", b"2", None, 2.0)
        await tx.insert_event("e3", "paid", "other", b"3", None, 3.0)
        first = await tx.claim_event("paid", "k", "r1", 4.0)
        second = await tx.claim_event("paid", "k", "r1", 4.0)
        third = await tx.claim_event("paid", "k", "r1", 4.0)
    assert first is not None and first.event_id == "e1" and first.run_id == "r1"
    assert second is not None and second.event_id == "e2"
    assert third is None
    assert [e.event_id for e in await store.pending_events()] == ["e3"]
    await store.close()


async def test_task_leases_are_claimed_only_when_free_or_expired(db: Db) -> None:
    store = await open_store(db.url, 1.0)
    await _seed(store)
    async with store.transaction() as tx:
        tx.batch.put_task(_task("free#1"))
        tx.batch.put_task(_task("held#1", owner="alive", expires=100.0))
        tx.batch.put_task(_task("expired#1", owner="gone", expires=5.0))
        tx.batch.put_task(_task("other#1", task="not-mine"))
    claimed = await store.claim_tasks("me", {"t"}, 10.0, 30.0, 10)
    assert sorted(t.dispatch_id for t in claimed) == ["expired#1", "free#1"]
    assert all(t.lease_owner == "me" and t.lease_expires_at == 40.0 for t in claimed)
    assert await store.claim_tasks("me", {"t"}, 10.0, 30.0, 10) == []
    await store.heartbeat("me", 20.0, 30.0)
    assert db.rows("SELECT lease_expires_at FROM tasks WHERE lease_owner = 'me'") == [(50.0,), (50.0,)]
    await store.close()
