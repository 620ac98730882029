"""Properties of the interpreter under any sequence of inputs: it never
raises, the journal is contiguous, a finished run never changes, and every
effect refers to something the state knows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rtspec import backoff, edge, exit_, handler, mut, nop, op, out, sleep, spec, task, thread, var, variable, wait

from wfc.runtime.interpreter import (
    Cancel,
    DispatchTask,
    EventArrived,
    Input,
    Redeliver,
    SetTimer,
    TaskCompleted,
    TaskFailed,
    TimerFired,
    begin,
    step,
)
from wfc.runtime.interpreter.state import RunStatus, encode_state

SPEC = spec(
    "prop",
    [
        ("charge", task("charge", var("n"), retries=2, backoff=backoff(), handlers=[handler("exception", "recover")])),
        ("approval", wait("approved", timeout=30, correlation=var("key"))),
        ("loop", nop(edges=[edge("nap", op(var("n"), "<", 3), mut("n", "add", 1)), edge("end")])),
        ("nap", sleep(5, edges=[edge("charge")])),
        ("end", exit_(out("approval"))),
    ],
    variables={"n": variable("int", default=0), "key": variable("str", default="k")},
    threads={"recover": thread([("page", task("page")), ("end", exit_())], variables={"failure": variable("json")})},
)

dispatch_ids = st.sampled_from(["r1/0/charge/1#1", "r1/0/charge/1#2", "r1/0/charge/2#1", "r1/1/page/1#1", "junk#9"])
payloads = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3))
inputs: st.SearchStrategy[Input] = st.one_of(
    st.builds(TaskCompleted, dispatch_id=dispatch_ids, output=payloads),
    st.builds(
        TaskFailed,
        dispatch_id=dispatch_ids,
        name=st.sampled_from(["TASK_ERROR", "TIMEOUT", "declined"]),
        business=st.booleans(),
    ),
    st.builds(TimerFired, timer=st.integers(min_value=0, max_value=8)),
    st.builds(
        EventArrived,
        event_id=st.text(min_size=1, max_size=3),
        name=st.sampled_from(["approved", "other"]),
        payload=payloads,
        correlation=st.sampled_from([None, "k", "x"]),
    ),
    st.builds(Redeliver, dispatch_id=dispatch_ids),
    st.just(Cancel()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(inputs, max_size=25))
def test_any_input_sequence_keeps_the_invariants(events: list[Input]) -> None:
    now = 1000.0
    transition = begin(SPEC, "r1", {}, now)
    state = transition.state
    seq = [entry.seq for entry in transition.journal]
    timers: set[int] = {e.timer for e in transition.effects if isinstance(e, SetTimer)}
    for event in events:
        now += 1.0
        before, stored = state, encode_state(state)
        transition = step(state, SPEC, event, now)
        assert encode_state(before) == stored  # step never changes the state it is given
        state = transition.state
        seq.extend(entry.seq for entry in transition.journal)
        if before.status.finished:
            assert transition.journal == [] and transition.effects == []
            assert state.status is before.status
        for effect in transition.effects:
            if isinstance(effect, SetTimer):
                assert effect.timer not in timers  # timer ids are never reused
                timers.add(effect.timer)
            if isinstance(effect, DispatchTask):
                assert effect.idempotency_key in effect.dispatch_id
    assert seq == list(range(1, len(seq) + 1))
    assert state.seq == len(seq)
    if state.status is RunStatus.RUNNING:
        assert any(t.wait is not None for t in state.threads.values())
