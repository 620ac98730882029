"""Properties of ``begin``/``step``/``crash`` as pure functions, under any
sequence of inputs (the input strategies of the interpreter and thread
property tests, and the states the golden files record):

* deterministic: the same state, input and ``now`` give the same transition,
  byte for byte, even from a decoded copy of the state and a fresh copy of
  the spec (nothing keyed by object identity leaks into the result);
* they never change what they are given: the state, the input, the spec and
  the start inputs encode to the same bytes after the call, and after every
  later step of the run (no aliasing between a returned state and its input).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from golden.canon import input_of, limits_of, policies_of, spec_of, state_of
from golden.catalog import files
from hypothesis import given, settings
from hypothesis import strategies as st
from test_interpreter_properties import SPEC, TASK_POLICIES, USER_TASK_SPEC, Seen, inputs, user_task_input
from test_threads_properties import CAP, SPECS, next_input

from wfc.runtime.interpreter import (
    DispatchTask,
    Input,
    Limits,
    SetTimer,
    TaskPolicy,
    TimerFired,
    Transition,
    begin,
    crash,
    step,
)
from wfc.runtime.interpreter.state import RunState, decode_state, encode_state
from wfc.specs import WorkflowSpec, dumps

NOW = 1000.0


def _bytes(transition: Transition) -> bytes:
    return msgspec.json.encode(transition)


def _copy(spec: WorkflowSpec) -> WorkflowSpec:
    """An equal spec that is another object (and so has another ``id``).

    Through msgspec in the spec's own key order: the order of a spec's
    variables is the order of the run's variables (canonical specs, as
    stored, have them sorted)."""
    return msgspec.json.decode(msgspec.json.encode(spec), type=WorkflowSpec)


class Checked:
    """Applies inputs to a run, checking each call is deterministic and
    leaves its arguments as they were; keeps every state seen so it can
    check later that no later step changed an earlier state."""

    def __init__(
        self,
        spec: WorkflowSpec,
        start: Mapping[str, Any],
        limits: Limits | None = None,
        policies: Mapping[str, TaskPolicy] | None = None,
    ) -> None:
        self.spec, self.limits, self.policies = spec, limits, policies
        self.spec_bytes = dumps(spec)
        start_bytes = msgspec.json.encode(start)
        first = begin(spec, "r1", start, NOW, policies, limits)
        again = begin(_copy(spec), "r1", msgspec.json.decode(start_bytes), NOW, policies, limits)
        assert _bytes(first) == _bytes(again)
        assert msgspec.json.encode(start) == start_bytes
        self.state = first.state
        self.seen: list[tuple[RunState, bytes]] = [(self.state, encode_state(self.state))]

    def step(self, event: Input, now: float) -> Transition:
        state, state_bytes = self.state, encode_state(self.state)
        event_bytes = msgspec.json.encode(event)
        first = step(state, self.spec, event, now, self.policies, self.limits)
        again = step(decode_state(state_bytes), _copy(self.spec), input_of(json.loads(event_bytes)), now,
                     self.policies, self.limits)  # fmt: skip
        assert _bytes(first) == _bytes(again), f"two steps of {event!r} differ"
        assert encode_state(state) == state_bytes, f"step changed its input state ({event!r})"
        assert msgspec.json.encode(event) == event_bytes, "step changed its input"
        assert first.state is not state
        self.state = first.state
        self.seen.append((self.state, encode_state(self.state)))
        return first

    def crash(self, now: float) -> None:
        state_bytes = encode_state(self.state)
        first = crash(self.state, self.spec, "boom", now)
        again = crash(decode_state(state_bytes), _copy(self.spec), "boom", now)
        assert _bytes(first) == _bytes(again)
        assert encode_state(self.state) == state_bytes

    def nothing_changed_behind(self) -> None:
        """No later step changed a state returned earlier, nor the spec."""
        for index, (state, encoded) in enumerate(self.seen):
            assert encode_state(state) == encoded, f"state #{index} changed after it was returned"
        assert dumps(self.spec) == self.spec_bytes, "the spec changed"


@settings(max_examples=150, deadline=None)
@given(st.lists(inputs, max_size=20), st.booleans())
def test_step_is_deterministic_and_pure_on_loops_retries_and_events(events: list[Input], crash_at_end: bool) -> None:
    run = Checked(SPEC, {"n": 0})
    now = NOW
    for event in events:
        now += 1.0
        run.step(event, now)
    if crash_at_end:
        run.crash(now + 1.0)
    run.nothing_changed_behind()


@settings(max_examples=60, deadline=None)
@given(st.booleans(), st.data())
def test_step_is_deterministic_and_pure_with_threads_interrupts_and_sagas(sagas: bool, data: st.DataObject) -> None:
    run = Checked(SPECS[sagas], {}, Limits(max_children=CAP))
    dispatched: dict[str, DispatchTask] = {}
    timers: dict[int, float] = {}
    now = NOW
    for _ in range(data.draw(st.integers(min_value=0, max_value=30))):
        event = next_input(data, run.state, dispatched, timers)
        now += data.draw(st.sampled_from([0.0, 1.0, 10.0]))
        if isinstance(event, TimerFired):
            now = max(now, timers.pop(event.timer, now))
        transition = run.step(event, now)
        for effect in transition.effects:
            if isinstance(effect, SetTimer):
                timers[effect.timer] = effect.due
            elif isinstance(effect, DispatchTask):
                dispatched[effect.dispatch_id] = effect
    run.nothing_changed_behind()


@settings(max_examples=80, deadline=None)
@given(st.data(), st.booleans())
def test_step_is_deterministic_and_pure_with_user_tasks(data: st.DataObject, crash_at_end: bool) -> None:
    """People acting on user tasks (in the entrypoint, children and an
    interrupt handler), their timers and reminders, and operator commands."""
    run = Checked(USER_TASK_SPEC, {}, policies=TASK_POLICIES)
    seen = Seen(begin(USER_TASK_SPEC, "r1", {}, NOW, TASK_POLICIES))
    now = NOW
    for _ in range(data.draw(st.integers(min_value=0, max_value=30))):
        event = user_task_input(data, run.state, seen)
        now += data.draw(st.sampled_from([0.0, 1.0, 7.0]))
        if isinstance(event, TimerFired) and event.timer in seen.timers:
            now = max(now, seen.timers[event.timer])
        seen.note(run.step(event, now), event)
    if crash_at_end:
        run.crash(now + 1.0)
    run.nothing_changed_behind()


GOLDEN = files()


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_step_is_pure_on_every_recorded_golden_step(path: Any) -> None:
    """Each recorded (state, input, now) of the golden files, applied twice:
    same bytes, and the state given is left as it was."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    spec = spec_of(doc["spec"])
    policies, limits = policies_of(doc.get("policies")), limits_of(doc.get("limits"))
    steps = doc["steps"]
    for previous, record in itertools.pairwise(steps):
        if "input" not in record:
            continue
        state = state_of(previous["expect"]["state"])
        before = encode_state(state)
        event = input_of(record["input"])
        first = step(state, spec, event, record["now"], policies, limits)
        again = step(state_of(previous["expect"]["state"]), _copy(spec), event, record["now"], policies, limits)
        assert _bytes(first) == _bytes(again)
        assert encode_state(state) == before
