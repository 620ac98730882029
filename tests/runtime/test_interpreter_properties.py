"""Properties of the interpreter under any sequence of inputs: it never
raises, the journal is contiguous, a finished run never changes, and every
effect refers to something the state knows."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rtspec import (
    backoff,
    edge,
    exit_,
    field,
    for_each,
    form,
    handler,
    interrupt,
    mut,
    nop,
    op,
    out,
    sleep,
    spec,
    task,
    thread,
    user_task,
    ut_timer,
    var,
    variable,
    wait,
    wait_threads,
)
from rtusertasks import Index, open_tasks

from wfc.runtime.interpreter import (
    Cancel,
    CancelTimer,
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    DispatchTask,
    EventArrived,
    Halt,
    Input,
    ReassignUserTask,
    Redeliver,
    ReleaseUserTask,
    Resume,
    Retry,
    SetTimer,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
    Transition,
    UserTaskChanged,
    begin,
    step,
    user_task_refusal,
)
from wfc.runtime.interpreter.state import RetryWait, RunState, RunStatus, TaskWait, encode_state
from wfc.specs import Backoff

UserTaskInputs = ClaimUserTask | ReleaseUserTask | ReassignUserTask | CompleteUserTask | CancelUserTask

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


# ------------------------------------------------------------ user tasks

APPROVE = form("approve", field("ok", "bool"), field("amount", "int"), field("note", required=False))

USER_TASK_SPEC = spec(
    "prop-user-tasks",
    [
        ("each", for_each("review", [1, 2])),
        (
            "ut",
            user_task(
                "approve",
                user=var("owner"),
                group="g",
                timers=[
                    ut_timer(5, "remind", var("owner"), task="nag"),
                    ut_timer(20, "reassign", group="esc"),
                    ut_timer(30, "release"),
                    ut_timer(60, "cancel"),
                ],
            ),
        ),
        ("w", wait_threads("each", strategy="ANY")),
        ("end", exit_(out("ut", "amount"))),
    ],
    variables={"owner": variable("str", default="ann")},
    threads={
        "review": thread(
            [
                ("rv", user_task("approve", group="reviewers", timers=[ut_timer(15, "cancel")],
                                 handlers=[handler("error", "shrug", "USER_TASK_CANCELLED")])),
                ("end", exit_()),
            ],
            variables={"item": variable("json", required=True)},
        ),
        "shrug": thread([("end", exit_())], variables={"failure": variable("json")}),
        "on-poke": thread([("p", user_task("approve", user="ops")), ("end", exit_())],
                          variables={"event": variable("json")}),
    },
    interrupts=[interrupt("poke", "on-poke")],
    forms=[APPROVE],
)  # fmt: skip

GOOD = {"ok": True, "amount": 1}
TASK_POLICIES = {"nag": TaskPolicy(retries=1, backoff=Backoff(initial=1, multiplier=1, maximum=1))}


class Seen:
    """What a user task run handed out so far: task ids, dispatches, live timers."""

    def __init__(self, transition: Transition) -> None:
        self.tasks: list[str] = []
        self.dispatched: list[str] = []
        self.timers: dict[int, float] = {}
        self.note(transition, None)

    def note(self, transition: Transition, event: Input | None) -> None:
        if isinstance(event, TimerFired):
            self.timers.pop(event.timer, None)
        for effect in transition.effects:
            if isinstance(effect, SetTimer):
                assert effect.timer not in self.timers
                self.timers[effect.timer] = effect.due
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.timer, None)
            elif isinstance(effect, DispatchTask) and effect.dispatch_id not in self.dispatched:
                self.dispatched.append(effect.dispatch_id)
            elif isinstance(effect, UserTaskChanged) and effect.id not in self.tasks:
                self.tasks.append(effect.id)


def user_task_input(data: st.DataObject, state: RunState, seen: Seen) -> Input:
    """Any input a user task run may get: people acting on its tasks (open,
    closed or unknown; valid or not), its timers in due order, reminder
    results, interrupts and operator commands."""
    ids = st.sampled_from([*seen.tasks, "ut-00000000000000000000"])
    users = st.sampled_from([None, "ann", "bob", "ops", ""])
    values = st.sampled_from([GOOD, {**GOOD, "note": "n"}, {}, {"ok": "yes", "amount": 1}, {"bogus": 1}])
    dispatches = st.sampled_from(seen.dispatched or ["junk#1"])
    due = min(seen.timers, key=lambda t: (seen.timers[t], t)) if seen.timers else 99
    choices: list[st.SearchStrategy[Any]] = [
        st.builds(ClaimUserTask, task_id=ids, user=st.sampled_from(["ann", "bob", ""])),
        st.builds(ReleaseUserTask, task_id=ids, by=users),
        st.builds(ReassignUserTask, task_id=ids, user=users, group=st.sampled_from([None, "esc", ""]), by=users),
        st.builds(CompleteUserTask, task_id=ids, values=values, by=users),
        st.builds(CancelUserTask, task_id=ids, reason=st.sampled_from(["", "nope"]), by=users),
        st.just(TimerFired(timer=due)),
        st.builds(TaskCompleted, dispatch_id=dispatches),
        st.builds(TaskFailed, dispatch_id=dispatches, name=st.just("TASK_ERROR"), business=st.booleans()),
        st.builds(Redeliver, dispatch_id=dispatches),
        st.builds(EventArrived, event_id=st.uuids().map(str), name=st.just("poke")),
        st.sampled_from([Halt(), Resume(), Retry(), Cancel()]),
    ]
    weights = st.sampled_from([0, 1, 2, 3, 3, 3, 4, 5, 5, 5, 6, 7, 8, 9, 10])
    return data.draw(choices[data.draw(weights)])


def check_user_tasks(state: RunState, index: Index, seen: Seen) -> None:
    """The shell's index is the run's open tasks; timers are armed exactly
    while their thread may move, and each armed one is live."""
    index.matches(state)
    if state.status.finished:
        assert index.open() == {}
    for number, open_task in open_tasks(state).values():
        backoffs = [a for a in open_task.reminder_attempts if isinstance(a, RetryWait)]
        timed = [*open_task.timers, *backoffs]
        armed = [t.timer for t in timed if t.timer is not None]
        if state.threads[number].suspended:
            assert armed == [] and all(t.remaining is not None for t in timed)
        else:
            assert len(armed) == len(timed) and set(armed) <= set(seen.timers)
        assert open_task.reminders == [a.dispatch_id for a in open_task.reminder_attempts if isinstance(a, TaskWait)]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_user_task_input_sequence_keeps_the_invariants(data: st.DataObject) -> None:
    now = 1000.0
    transition = begin(USER_TASK_SPEC, "r1", {}, now, TASK_POLICIES)
    state = transition.state
    seen, index = Seen(transition), Index()
    index.apply(transition.effects)
    seq = [entry.seq for entry in transition.journal]
    for _ in range(data.draw(st.integers(min_value=0, max_value=40))):
        event = user_task_input(data, state, seen)
        now += data.draw(st.sampled_from([0.0, 1.0, 7.0]))
        if isinstance(event, TimerFired) and event.timer in seen.timers:
            now = max(now, seen.timers[event.timer])
        before, stored = state, encode_state(state)
        transition = step(state, USER_TASK_SPEC, event, now, TASK_POLICIES)
        assert encode_state(before) == stored
        if isinstance(event, UserTaskInputs) and user_task_refusal(before, USER_TASK_SPEC, event) is not None:
            assert transition.journal == [] and transition.effects == []
            assert encode_state(transition.state) == stored  # a refused input changes nothing
        state = transition.state
        seq.extend(entry.seq for entry in transition.journal)
        seen.note(transition, event)
        index.apply(transition.effects)
        check_user_tasks(state, index, seen)
    assert seq == list(range(1, len(seq) + 1)) and state.seq == len(seq)
