"""A run's thread runs are stored one row each (``run_threads``) and a commit
writes only the threads its step changed: a run with many waiting children
does not rewrite them all on every step. What is read back is the whole
state, threads in number order; a run stored whole (format 1, threads in
``runs.state``) still loads, and its next commit moves its threads to their
rows. On both stores."""

from __future__ import annotations

import itertools
import json
import sqlite3
from typing import Any

import msgspec
import pytest
from golden.canon import input_of, limits_of, policies_of, spec_of, state_of
from golden.catalog import files
from hypothesis import given, settings
from hypothesis import strategies as st
from rtdb import Db
from rtspec import exit_, for_each, lst, spec, var, variable, wait
from test_threads_properties import CAP, SPECS, Walk

from wfc.runtime import Engine, RunStatus
from wfc.runtime._run_rows import changed_threads
from wfc.runtime.interpreter import Limits, begin, step
from wfc.runtime.interpreter.copies import CopiedOnFetch, Settled, any_flags, fork, scan_flags, settled
from wfc.runtime.interpreter.state import RunState, ThreadRun, ThreadStatus, decode_state, encode_state, encode_thread
from wfc.runtime.store import RunFilter, RunWrite, open_store

CHILDREN = 3


def waiting_children() -> Any:
    """``main`` spawns a child per item, each waiting for ``release``; then
    waits for ``next`` twice and ends."""
    return spec(
        "kids",
        [
            ("spawn", for_each("waiter", var("items"))),
            ("first", wait("next")),
            ("second", wait("next")),
            ("end", exit_(lst(1))),
        ],
        variables={"items": variable("json", required=True)},
        threads={"waiter": [("hold", wait("release")), ("done", exit_())]},
    )


def _thread_rows(db: Db, run_id: str) -> dict[int, dict[str, Any]]:
    rows = db.rows(f"SELECT number, state FROM run_threads WHERE run_id = '{run_id}' ORDER BY number")
    return {number: json.loads(state) for number, state in rows}


def _run_row(db: Db, run_id: str) -> tuple[dict[str, Any], int]:
    [(state, state_format)] = db.rows(f"SELECT state, state_format FROM runs WHERE id = '{run_id}'")
    return json.loads(state), state_format


@pytest.mark.anyio
async def test_each_thread_is_stored_in_its_own_row_and_read_back_whole(db_url: str, db: Db) -> None:
    async with Engine.open(db_url, poll_interval=0.05) as engine:
        await engine.deploy(waiting_children())
        run_id = await engine.start("kids", {"items": list(range(CHILDREN))})
        run = await engine.get_run(run_id)
        assert [t.number for t in run.threads] == list(range(CHILDREN + 1))
    state, state_format = _run_row(db, run_id)
    assert "threads" not in state and state_format == 2
    rows = _thread_rows(db, run_id)
    assert sorted(rows) == list(range(CHILDREN + 1))
    assert rows[0]["node"] == "first" and all(rows[n]["node"] == "hold" for n in range(1, CHILDREN + 1))
    store = await open_store(db_url, 1.0)
    try:
        record = await store.get_run(run_id)
        assert record is not None and record.threads_apart
        whole = decode_state(record.state)
        assert list(whole.threads) == list(range(CHILDREN + 1))
        assert {n: msgspec.to_builtins(t) for n, t in whole.threads.items()} == rows
        [listed] = await store.list_runs(RunFilter())
        assert listed.state == record.state
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_step_rewrites_only_the_threads_it_changed(tmp_path: Any) -> None:
    path = tmp_path / "wfc.db"
    url = f"sqlite:///{path}"
    async with Engine.open(url, poll_interval=0.05) as engine:
        await engine.deploy(waiting_children())
        run_id = await engine.start("kids", {"items": list(range(CHILDREN))})
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE written (number INTEGER)")
            for verb in ("INSERT", "UPDATE"):
                conn.execute(
                    f"CREATE TRIGGER note_{verb.lower()} AFTER {verb} ON run_threads "
                    "BEGIN INSERT INTO written VALUES (NEW.number); END"
                )
        conn.close()
        await engine.send_event("next", 1, run_id=run_id)
        run = await engine.get_run(run_id)
        assert "@second" in str(run.waiting_on)
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT number FROM written").fetchall() == [(0,)]  # the parent only
            conn.execute("DELETE FROM written")
        conn.close()
        await engine.send_event("release", None, run_id=run_id)  # one child takes it
        await engine.send_event("next", 2, run_id=run_id)
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED
        with sqlite3.connect(path) as conn:
            # The child that ended, then the end of the run halts every child.
            written = {n for (n,) in conn.execute("SELECT number FROM written").fetchall()}
        conn.close()
    assert written == set(range(CHILDREN + 1))


@pytest.mark.anyio
async def test_a_run_stored_whole_loads_and_its_next_commit_moves_its_threads(db_url: str, db: Db) -> None:
    async with Engine.open(db_url, poll_interval=0.05) as engine:
        await engine.deploy(waiting_children())
        run_id = await engine.start("kids", {"items": list(range(CHILDREN))})
    store = await open_store(db_url, 1.0)
    try:
        record = await store.get_run(run_id)
        assert record is not None
        async with store.transaction() as tx:  # as a wfc that stored the state whole left it
            tx.batch.runs[run_id] = RunWrite(
                id=run_id,
                workflow=record.workflow,
                major=record.major,
                revision=record.revision,
                status=record.status,
                state=record.state,
                created_at=record.created_at,
                updated_at=record.updated_at,
                expected_version=record.version,
                state_format=1,
            )
    finally:
        await store.close()
    assert _thread_rows(db, run_id) == {}
    state, state_format = _run_row(db, run_id)
    assert sorted(state["threads"]) == [str(n) for n in range(CHILDREN + 1)] and state_format == 1
    async with Engine.open(db_url, poll_interval=0.05) as engine:
        assert [t.number for t in (await engine.get_run(run_id)).threads] == list(range(CHILDREN + 1))
        await engine.send_event("next", 1, run_id=run_id)
        run = await engine.get_run(run_id)
        assert "@second" in str(run.waiting_on)
        assert len(run.threads) == CHILDREN + 1
        state, state_format = _run_row(db, run_id)
        assert "threads" not in state and state_format == 2
        rows = _thread_rows(db, run_id)
        assert sorted(rows) == list(range(CHILDREN + 1))  # the untouched children too
        assert all(rows[n]["node"] == "hold" and "status" not in rows[n] for n in range(1, CHILDREN + 1))
        await engine.send_event("next", 2, run_id=run_id)
        assert (await engine.wait(run_id, timeout=10)).status is RunStatus.COMPLETED
    assert all(row["status"] == "HALTED" for n, row in _thread_rows(db, run_id).items() if n)


def test_the_threads_are_put_in_number_order_whatever_order_they_were_stored_in() -> None:
    state = RunState(id="r", workflow="w", version=waiting_children().version)
    shuffled = (
        b'{"threads":{"2":{"number":2,"name":"t","kind":"child"},"0":{"number":0,"name":"m","kind":"entrypoint"}},'
    )
    decoded = decode_state(shuffled + encode_state(state)[1:])
    assert list(decoded.threads) == [0, 2]


GOLDEN = files()


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_the_changed_threads_rebuild_every_stored_thread_on_every_golden_step(path: Any) -> None:
    """Chained through each golden scenario: the thread rows kept up to date
    with only :func:`changed_threads` of each step hold exactly the threads
    of the state the step returned (a step that changed a thread it did not
    fetch would leave a stale row)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    spec_ = spec_of(doc["spec"])
    policies, limits = policies_of(doc.get("policies")), limits_of(doc.get("limits"))
    state: RunState | None = None
    rows: dict[int, bytes] = {}
    checked = 0
    for previous, record in itertools.pairwise(doc["steps"]):
        if "input" not in record:
            state = None
            continue
        if state is None:
            state = state_of(previous["expect"]["state"])
            rows = changed_threads(state, state, apart=False)
        after = step(state, spec_, input_of(record["input"]), record["now"], policies, limits).state
        changed = changed_threads(state, after, apart=True)
        rows.update(changed)
        assert rows == {n: encode_thread(t) for n, t in after.threads.items()}
        _check_origin_dropped(state, after, changed)
        assert isinstance(after.threads, Settled) and after.threads.flags == scan_flags(after.threads)
        _check_copies_from_rows(after)
        state = after
        checked += 1
    assert checked or len(doc["steps"]) < 2


def test_a_new_or_whole_stored_run_writes_every_thread() -> None:
    doc = json.loads(GOLDEN[0].read_text(encoding="utf-8"))
    state = state_of(doc["steps"][-1]["expect"]["state"])
    assert changed_threads(state, state, apart=False) == {n: encode_thread(t) for n, t in state.threads.items()}
    assert changed_threads(state, state, apart=True) == {}


@settings(max_examples=80, deadline=None)
@given(st.booleans(), st.data())
def test_the_derived_thread_flags_and_rows_always_match_the_threads(sagas: bool, data: st.DataObject) -> None:
    """Children under a fan-out cap (QUEUED), interrupts, freezes, sagas:
    after every step the flags :func:`~.transitions.settle` reads without
    looking at every thread equal those found by looking at every thread,
    and the rows written with :func:`changed_threads` equal the threads."""
    spec_ = SPECS[sagas]
    limits = Limits(max_children=CAP)
    started = begin(spec_, "r1", {}, 1000.0, None, limits)
    state = started.state
    rows = changed_threads(state, state, apart=False)
    walk = Walk(started)
    for _ in range(data.draw(st.integers(min_value=0, max_value=30))):
        event = walk.next(data, state)
        transition = step(state, spec_, event, walk.now, None, limits)
        after = transition.state
        assert isinstance(after.threads, Settled) and after.threads.flags == scan_flags(after.threads)
        changed = changed_threads(state, after, apart=True)
        rows.update(changed)
        assert rows == {n: encode_thread(t) for n, t in after.threads.items()}
        _check_origin_dropped(state, after, changed)
        _check_copies_from_rows(after)
        _check_flags_while_stepping(data, after)
        walk.saw(transition)
        state = after


def _check_origin_dropped(before: RunState, after: RunState, changed: dict[int, bytes]) -> None:
    """Once its rows are known, a stepped state no longer holds the threads
    of the state before (every live run kept a second copy of its changed
    threads); its rows found again, by comparing the threads themselves,
    are the same."""
    assert isinstance(after.threads, Settled) and after.threads.origin is None
    assert changed_threads(before, after, apart=True) == changed


def _check_copies_from_rows(state: RunState) -> None:
    """The JSON a commit wrote of a stepped state's threads, kept for the
    next step's copies, is each thread's JSON now; a thread copied from it
    is a new object equal to the JSON round trip of the thread."""
    threads = state.threads
    assert isinstance(threads, Settled)
    assert threads.encoded == {n: encode_thread(threads[n]) for n in threads.encoded}
    forked = fork(state)
    for number, thread in threads.items():
        copy = forked.threads[number]
        assert copy is not thread
        assert copy == msgspec.json.decode(encode_thread(thread), type=ThreadRun)
        assert encode_thread(copy) == encode_thread(thread)


def _check_flags_while_stepping(data: st.DataObject, state: RunState) -> None:
    """Mid-step (a fork of a settled state, some threads fetched and
    changed), :func:`any_flags` and the flags a settled state would get say
    what looking at every thread says."""
    given = decode_state(encode_state(state))
    for number in data.draw(st.lists(st.sampled_from(sorted(given.threads)), max_size=3)):
        _change(data, given.threads[number])
    settled(given)  # flags found by looking at every thread
    forked = fork(given)
    for number in data.draw(st.lists(st.sampled_from(sorted(forked.threads)), max_size=3)):
        _change(data, forked.threads[number])
    scanned = scan_flags(dict(forked.threads))
    expected = (bool(scanned.interrupted), bool(scanned.suspended), bool(scanned.queued))
    assert any_flags(forked.threads) == expected
    assert isinstance(forked.threads, CopiedOnFetch) and forked.threads.flags() == scanned


def _change(data: st.DataObject, thread: ThreadRun) -> None:
    change = data.draw(st.sampled_from(["none", "suspend", "thaw", "queue", "run", "uninterrupt"]))
    if change in ("suspend", "thaw"):
        thread.suspended = change == "suspend"
    elif change in ("queue", "run"):
        thread.status = ThreadStatus.QUEUED if change == "queue" else ThreadStatus.RUNNING
    elif change == "uninterrupt":
        thread.interrupt, thread.interrupts = None, []
