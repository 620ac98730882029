"""A run's journal, replayed through the interpreter, reproduces its stored
state: the inputs are read back from the journal (see :mod:`rtjournal` for
how, and for what the journal does not hold), re-applied with
``begin``/``step``, each step must write exactly the entries the journal
holds next, and the final state must equal the stored one byte for byte.

Checked on the pure interpreter under random input sequences, and on real
runs of an engine on a SQLite file (manual clock): retries, events sent
early, a sleep, child threads, an interrupt, halt/resume, compensation; and
on every golden run (tests/runtime/golden/) but those whose failed task's
exception ``content`` the journal does not hold.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest
from golden.canon import limits_of, plain, policies_of, spec_of, text
from golden.catalog import files
from hypothesis import given, settings
from hypothesis import strategies as st
from rtclock import ManualClock, finish, manual_engine
from rtjournal import JournalMismatch, entry_dict, replay_journal
from rtspec import (
    backoff,
    exit_,
    for_each,
    interrupt,
    out,
    sleep,
    spec,
    task,
    thread,
    undo,
    var,
    variable,
    wait,
    wait_threads,
)
from test_interpreter_properties import SPEC, inputs
from test_threads_properties import CAP, SPECS, next_input

from wfc.runtime import RunStatus, TaskContext
from wfc.runtime import task as task_fn
from wfc.runtime.interpreter import (
    DispatchTask,
    EventArrived,
    Input,
    JournalEntry,
    Limits,
    SetTimer,
    TimerFired,
    Transition,
    begin,
    step,
)
from wfc.runtime.interpreter.state import RunState, decode_state, encode_state
from wfc.runtime.store.rows import join_threads
from wfc.specs import WorkflowSpec


class Recording:
    """A run driven through the interpreter, keeping what an engine stores:
    the journal, the payload of each event (sent once per id) and the state."""

    def __init__(self, spec: WorkflowSpec, start: dict[str, Any], limits: Limits | None = None) -> None:
        self.spec, self.limits = spec, limits
        self.journal: list[JournalEntry] = []
        self.payloads: dict[str, Any] = {}
        self.state = self._keep(begin(spec, "r1", start, 1000.0, None, limits))

    def _keep(self, transition: Transition) -> RunState:
        self.journal.extend(transition.journal)
        return transition.state

    def feed(self, event: Input, now: float) -> Transition:
        if isinstance(event, EventArrived):
            if event.event_id in self.payloads:
                return Transition(state=self.state, effects=[], journal=[])  # the store keeps one event per id
            self.payloads[event.event_id] = event.payload
        transition = step(self.state, self.spec, event, now, None, self.limits)
        self.state = self._keep(transition)
        return transition

    def check_replay(self) -> None:
        replayed = replay_journal(
            self.spec, "r1", [entry_dict(e) for e in self.journal], self.payloads, None, self.limits
        )
        assert encode_state(replayed.state) == encode_state(self.state)


@settings(max_examples=150, deadline=None)
@given(st.lists(inputs, max_size=25))
def test_the_journal_rebuilds_the_state_of_runs_with_loops_retries_and_events(events: list[Input]) -> None:
    run = Recording(SPEC, {})
    now = 1000.0
    for event in events:
        now += 1.0
        run.feed(event, now)
    run.check_replay()


@settings(max_examples=80, deadline=None)
@given(st.booleans(), st.data())
def test_the_journal_rebuilds_the_state_of_runs_with_threads_interrupts_and_sagas(
    sagas: bool, data: st.DataObject
) -> None:
    run = Recording(SPECS[sagas], {}, Limits(max_children=CAP))
    dispatched: dict[str, DispatchTask] = {}
    timers: dict[int, float] = {}
    now = 1000.0
    for _ in range(data.draw(st.integers(min_value=0, max_value=40))):
        event = next_input(data, run.state, dispatched, timers)
        now += data.draw(st.sampled_from([0.0, 1.0, 10.0]))
        if isinstance(event, TimerFired):
            now = max(now, timers.pop(event.timer, now))
        for effect in run.feed(event, now).effects:
            if isinstance(effect, SetTimer):
                timers[effect.timer] = effect.due
            elif isinstance(effect, DispatchTask):
                dispatched[effect.dispatch_id] = effect
    run.check_replay()


def test_a_journal_that_lost_an_entry_does_not_rebuild_the_run() -> None:
    run = Recording(SPEC, {})
    run.feed(EventArrived(event_id="e1", name="approved", payload=1), 1001.0)
    entries = [entry_dict(e) for e in run.journal]
    del entries[-1]  # the EVENT_RECEIVED entry
    replay_journal(SPEC, "r1", entries, run.payloads)  # a prefix replays
    entries = [entry_dict(e) for e in run.journal]
    entries[1]["kind"] = "NODE_LEFT"
    with pytest.raises(JournalMismatch):
        replay_journal(SPEC, "r1", entries, run.payloads)


# ---------------------------------------------------------------- a real engine


ORDER = spec(
    "replayed-order",
    [
        ("charge", task("charge", var("amount"), retries=2, backoff=backoff(1.0, 2.0, 4.0),
                        compensation=undo("refund", out("charge")))),
        ("each", for_each("item", ["a", "b"])),
        ("picked", wait_threads("each")),
        ("nap", sleep(30)),
        ("approval", wait("approved", timeout=600)),
        ("ship", task("ship", out("approval"))),
        ("end", exit_(out("picked"))),
    ],
    variables={"amount": variable("float", required=True)},
    threads={
        "item": thread([("pick", task("pick", var("item"))), ("end", exit_(out("pick")))],
                       variables={"item": variable("json", required=True)}),
        "on-note": thread([("note", task("note", var("event"))), ("end", exit_())],
                          variables={"event": variable("json")}),
    },
    interrupts=[interrupt("note", "on-note")],
)  # fmt: skip


def _tasks(fail_ship: bool) -> list[Any]:
    @task_fn("charge")
    def charge(amount: float, ctx: TaskContext) -> dict[str, Any]:
        if ctx.attempt == 1:
            raise RuntimeError("gateway timeout")
        return {"id": "pay-1", "amount": amount}

    @task_fn("pick")
    def pick(item: str) -> str:
        return item.upper()

    @task_fn("note")
    def note(event: Any) -> None:
        return None

    @task_fn("refund")
    def refund(payment: Any) -> None:
        return None

    @task_fn("ship")
    def ship(approval: Any) -> str:
        if fail_ship:
            raise RuntimeError("carrier down")
        return "shipped"

    return [charge, pick, note, refund, ship]


def _stored(path: Path, run_id: str) -> tuple[bytes, list[dict[str, Any]], dict[str, Any]]:
    """The run's stored state, journal and event payloads, as the SQLite file holds them."""
    with sqlite3.connect(path) as db:
        (state,) = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
        threads = db.execute(
            "SELECT number, state FROM run_threads WHERE run_id = ? ORDER BY number", (run_id,)
        ).fetchall()
        rows = db.execute(
            "SELECT seq, at, kind, thread, node, attempt, detail FROM journal WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        events = db.execute("SELECT event_id, payload FROM events WHERE run_id = ?", (run_id,)).fetchall()
    journal = [dict(zip(("seq", "at", "kind", "thread", "node", "attempt"), row[:6], strict=True)) for row in rows]
    for entry, row in zip(journal, rows, strict=True):
        entry["detail"] = json.loads(row[6])
    payloads = {event_id: json.loads(payload) for event_id, payload in events}
    # The run's row holds it without its threads, each stored in a row of its own.
    members = ",".join(f'"{number}":{thread}' for number, thread in threads).encode()
    return join_threads(state.encode(), members), journal, payloads


@pytest.mark.anyio
@pytest.mark.parametrize(("fail_ship", "halt"), [(False, False), (False, True), (True, False)])
async def test_the_journal_of_an_engine_run_rebuilds_its_stored_state(
    sqlite_path: Path, fail_ship: bool, halt: bool
) -> None:
    clock = ManualClock()
    tasks = _tasks(fail_ship)
    async with manual_engine(f"sqlite:///{sqlite_path}", clock, tasks=tasks) as engine:
        await engine.deploy(ORDER)
        run_id = await engine.start("replayed-order", {"amount": 12.5}, run_id="order-1")
        await engine.send_event("approved", {"by": "ann"}, run_id=run_id, event_id="ok-1")  # before its wait
        await engine.send_event("note", {"text": "hi"}, run_id=run_id, event_id="note-1")  # an interrupt
        if halt:
            await engine.halt(run_id, "look")
            await engine.resume(run_id)
        run = await finish(engine, clock, run_id)
        deployed = await engine.get_spec("replayed-order")
    assert run.status is (RunStatus.COMPENSATED if fail_ship else RunStatus.COMPLETED)
    state, journal, payloads = _stored(sqlite_path, run_id)
    policies = {t.definition.name: t.definition.policy for t in tasks}
    replayed = replay_journal(deployed, run_id, journal, payloads, policies)
    stored = decode_state(state)
    # The engine adds digests of the start inputs (for idempotent starts) to the
    # state begin returned: the one part of a stored state the interpreter does not make.
    assert stored.input_digests
    rebuilt = msgspec.structs.replace(replayed.state, input_digests=stored.input_digests)
    assert encode_state(rebuilt) == encode_state(stored)
    kinds = {what for _, what in replayed.inputs}
    assert {"begin", "TaskCompleted", "TaskFailed", "TimerFired", "EventArrived"} <= kinds
    assert halt <= ({"Halt", "Resume"} <= kinds)
    entries = {entry["kind"] for entry in journal}
    assert {"INTERRUPT_HANDLED", "EVENT_CONSUMED", "THREADS_COMPLETED"} <= entries
    assert fail_ship == ("COMPENSATION_COMPLETED" in entries)
    assert msgspec.json.decode(state)["status"] == run.status.value


# ---------------------------------------------------------------- the golden runs

#: Golden runs whose journal cannot rebuild them: a task failed with a business
#: exception carrying ``content``, which the journal does not hold.
CONTENT_LOST = {
    "business-exception-handled-by-its-handler",
    "business-exception-with-no-matching-handler-fails-the-run",
}

GOLDEN = [p for p in files() if "error" not in json.loads(p.read_text(encoding="utf-8"))["steps"][0]["expect"]]


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_the_journal_of_every_golden_run_rebuilds_its_last_state(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    steps = doc["steps"]
    journal = [
        {"thread": 0, "node": None, "attempt": None, "detail": {}, **entry}
        for record in steps
        for entry in record["expect"]["journal"]
    ]
    payloads: dict[str, Any] = {}
    for record in steps:
        if record.get("input", {}).get("input") == "event_arrived":
            payloads.setdefault(record["input"]["event_id"], record["input"]["payload"])
    spec_ = spec_of(doc["spec"])
    policies, limits = policies_of(doc.get("policies")), limits_of(doc.get("limits"))
    if path.stem in CONTENT_LOST:
        with pytest.raises((JournalMismatch, AssertionError)):
            replayed = replay_journal(spec_, "r1", journal, payloads, policies, limits)
            assert text(plain(replayed.state)) == text(steps[-1]["expect"]["state"])
        return
    replayed = replay_journal(spec_, "r1", journal, payloads, policies, limits)
    assert text(plain(replayed.state)) == text(steps[-1]["expect"]["state"])
