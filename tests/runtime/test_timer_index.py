"""A fired timer's thread is found through the index of which threads may
hold each timer (:class:`~wfc.runtime.interpreter.copies.TimerIndex`), kept
with a stepped state's threads like their flags: never a thread missed.

Checked against a pass over every thread (what finding the holder did
before the index) on every golden step and on random runs of children,
retries, sleeps, timeouts, interrupts, halts and sagas; user tasks' timers
come from the golden scenarios."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from golden.canon import input_of, limits_of, policies_of, spec_of, state_of
from golden.catalog import files
from hypothesis import given, settings
from hypothesis import strategies as st
from test_threads_properties import CAP, SPECS, Walk

from wfc.runtime.interpreter import Input, Limits, TimerFired, begin, step
from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.copies import (
    CopiedOnFetch,
    Settled,
    TimerIndex,
    build_timer_index,
    fork,
    held_timers,
    scan_flags,
    settled,
)
from wfc.runtime.interpreter.results import timer_holder
from wfc.runtime.interpreter.state import (
    RetryWait,
    RunState,
    SleepWait,
    ThreadRun,
    ThreadStatus,
    UserTaskWait,
    Wait,
)
from wfc.specs import WorkflowSpec


def holds(wait: Wait | None, timer: int) -> bool:
    """Whether ``wait`` holds ``timer``, as a pass over every thread asked
    each wait: its own ``timer`` field, or an open user task's timers and
    its reminders' retry backoffs."""
    if isinstance(wait, UserTaskWait):
        return any(t.timer == timer for t in wait.timers) or any(
            isinstance(a, RetryWait) and a.timer == timer for a in wait.reminder_attempts
        )
    return wait is not None and "timer" in type(wait).__struct_fields__ and wait.timer == timer  # type: ignore[union-attr]


def scanned_holder(context: Step, timer: int) -> int | None:
    """The thread a fired timer is for, looking at every thread: the first
    running, unfrozen one holding it, an open user task's first."""
    found: int | None = None
    for thread in context.scan():
        if thread.status is not ThreadStatus.RUNNING or thread.suspended or context.frozen(thread):
            continue
        if not holds(thread.wait, timer):
            continue
        if isinstance(thread.wait, UserTaskWait):
            return thread.number
        if found is None:
            found = thread.number
    return found


def check_index(state: RunState) -> None:
    """Every thread holding a timer is named for it by the state's index,
    when it has one; :func:`held_timers` says what :func:`holds` says."""
    threads = state.threads
    assert isinstance(threads, Settled)
    for thread in threads.values():
        held = held_timers(thread.wait)
        assert sorted(held) == [t for t in range(state.next_timer + 1) if holds(thread.wait, t)]
        if threads.timers is not None:
            for timer in held:
                assert thread.number in {*threads.timers.base.get(timer, ()), *threads.timers.recent.get(timer, ())}


def check_holder(state: RunState, spec: WorkflowSpec, event: Input, now: float, limits: Limits | None = None) -> None:
    """For a timer about to fire: the index finds the thread a pass over
    every thread finds."""
    if not isinstance(event, TimerFired):
        return
    found = timer_holder(Step(fork(state), spec, now, None, limits), event.timer)
    assert (None if found is None else found.number) == scanned_holder(
        Step(fork(state), spec, now, None, limits), event.timer
    )


GOLDEN = files()


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_the_index_finds_every_golden_timers_thread(path: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    spec = spec_of(doc["spec"])
    policies, limits = policies_of(doc.get("policies")), limits_of(doc.get("limits"))
    state: RunState | None = None
    for previous, record in itertools.pairwise(doc["steps"]):
        if "input" not in record:
            state = None
            continue
        if state is None:
            state = state_of(previous["expect"]["state"])
        event = input_of(record["input"])
        check_holder(state, spec, event, record["now"], limits)
        state = step(state, spec, event, record["now"], policies, limits).state
        check_index(state)


@settings(max_examples=80, deadline=None)
@given(st.booleans(), st.data())
def test_the_index_finds_every_timers_thread_while_runs_go_on(sagas: bool, data: st.DataObject) -> None:
    spec = SPECS[sagas]
    limits = Limits(max_children=CAP)
    transition = begin(spec, "r1", {}, 1000.0, None, limits)
    state = transition.state
    walk = Walk(transition)
    for _ in range(data.draw(st.integers(min_value=0, max_value=30))):
        event = walk.next(data, state)
        check_holder(state, spec, event, walk.now, limits)
        before = _index_of(state)
        transition = step(state, spec, event, walk.now, None, limits)
        assert _index_of(state) == before  # stepping a state leaves its index as it was
        state = transition.state
        check_index(state)
        _check_mid_step(data, state)
        walk.saw(transition)


def _index_of(state: RunState) -> tuple[dict[int, tuple[int, ...]], dict[int, tuple[int, ...]]] | None:
    """A copy of the state's timer index, if it has one."""
    assert isinstance(state.threads, Settled)
    index = state.threads.timers
    return None if index is None else (dict(index.base), dict(index.recent))


def _check_mid_step(data: st.DataObject, state: RunState) -> None:
    """Mid-step (a fork, some threads fetched and given other timers or
    none), every thread holding a timer is among those the index names,
    and so after the step settles."""
    forked = fork(state)
    threads = forked.threads
    assert isinstance(threads, CopiedOnFetch)
    if data.draw(st.booleans()):
        threads.timer_holders(-1)  # builds the index now, before the changes
    fresh = itertools.count(state.next_timer)
    for number in data.draw(st.lists(st.sampled_from(sorted(threads)), max_size=3)):
        threads[number].wait = data.draw(
            st.sampled_from([None, SleepWait(timer=next(fresh)), SleepWait(timer=None), threads[number].wait])
        )
    forked.next_timer = next(fresh)
    for thread in threads.values():
        for timer in held_timers(thread.wait):
            assert thread.number in threads.timer_holders(timer)
    settled(forked)
    check_index(forked)


def test_the_index_is_rebuilt_once_many_timers_were_added() -> None:
    """Deriving the index copies the timers added since it was built: past
    a quarter of those built (and 64), the next state has none, and the
    next fired timer builds it again from every thread."""
    index = TimerIndex({1: (0,)}, {})
    state = RunState(id="r", workflow="w", version=SPECS[False].version, next_timer=200)
    threads = {n: _sleeping(n, 100 + n) for n in range(70)}
    state.threads = Settled(threads, scan_flags(threads), timers=index)
    forked = fork(state)
    for number in range(70):
        forked.threads[number]  # copied: each holds a timer added since the index was built
    settled(forked)
    assert isinstance(forked.threads, Settled) and forked.threads.timers is None
    again = fork(forked)
    assert isinstance(again.threads, CopiedOnFetch)
    assert list(again.threads.timer_holders(105)) == [5]
    assert build_timer_index(threads.values()).base[105] == (5,)


def _sleeping(number: int, timer: int) -> ThreadRun:
    return ThreadRun(number=number, name="t", kind="child", wait=SleepWait(timer=timer, due=1.0))
