"""Drive the pure interpreter in tests: start, feed inputs, inspect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfc.runtime.interpreter import (
    CancelTimer,
    DispatchTask,
    Effect,
    EventArrived,
    Input,
    Limits,
    SetTimer,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
    Transition,
    begin,
    step,
)
from wfc.runtime.interpreter.state import TaskWait
from wfc.specs import WorkflowSpec


class Driver:
    """Holds a run's state and feeds it inputs, like a tiny engine."""

    def __init__(
        self,
        spec: WorkflowSpec,
        inputs: Mapping[str, Any] | None = None,
        now: float = 1000.0,
        policies: Mapping[str, TaskPolicy] | None = None,
        run_id: str = "r1",
        limits: Limits | None = None,
    ) -> None:
        self.spec = spec
        self.now = now
        self.policies = policies
        self.limits = limits
        self.last: Transition = begin(spec, run_id, inputs, now, policies, limits)
        self.state = self.last.state
        self.effects: list[Effect] = list(self.last.effects)
        self.journal = list(self.last.journal)
        self.fired: set[int] = set()

    def feed(self, event: Input, at: float | None = None) -> Transition:
        if at is not None:
            self.now = at
        if isinstance(event, TimerFired):
            self.fired.add(event.timer)
        self.last = step(self.state, self.spec, event, self.now, self.policies, self.limits)
        self.state = self.last.state
        self.effects.extend(self.last.effects)
        self.journal.extend(self.last.journal)
        return self.last

    # ------------------------------------------------------------ inspection

    def dispatched(self) -> list[DispatchTask]:
        """Dispatches of the last transition."""
        return [e for e in self.last.effects if isinstance(e, DispatchTask)]

    def dispatch(self) -> DispatchTask:
        """The single task attempt waited for now."""
        waiting = {t.wait.dispatch_id for t in self.state.threads.values() if isinstance(t.wait, TaskWait)}
        found = [e for e in self.effects if isinstance(e, DispatchTask) and e.dispatch_id in waiting]
        assert len({e.dispatch_id for e in found}) == 1, f"expected one task in flight, got {found}"
        return found[-1]

    def timers(self) -> list[SetTimer]:
        return [e for e in self.last.effects if isinstance(e, SetTimer)]

    def in_flight(self) -> list[DispatchTask]:
        """Every task attempt (of threads or of a compensation) awaited now, by dispatch order."""
        waiting = {t.wait.dispatch_id for t in self.state.threads.values() if isinstance(t.wait, TaskWait)}
        saga = self.state.saga
        if saga is not None:
            waiting |= {d.wait.dispatch_id for d in saga.draining}
            if isinstance(saga.wait, TaskWait):
                waiting.add(saga.wait.dispatch_id)
        found: dict[str, DispatchTask] = {}
        for effect in self.effects:
            if isinstance(effect, DispatchTask) and effect.dispatch_id in waiting:
                found[effect.dispatch_id] = effect
        return list(found.values())

    def running(self, task: str) -> DispatchTask:
        """The one attempt of ``task`` awaited now."""
        found = [d for d in self.in_flight() if d.task == task]
        assert len(found) == 1, f"expected one {task!r} in flight, got {found}"
        return found[0]

    def finish(self, task: str, output: Any = None, at: float | None = None) -> Transition:
        """Complete the attempt of ``task`` awaited now."""
        return self.feed(TaskCompleted(dispatch_id=self.running(task).dispatch_id, output=output), at)

    def break_(self, task: str, name: str = "TASK_ERROR", business: bool = False, message: str = "boom") -> Transition:
        """Fail the attempt of ``task`` awaited now."""
        dispatch_id = self.running(task).dispatch_id
        return self.feed(TaskFailed(dispatch_id=dispatch_id, name=name, message=message, business=business))

    def pending_timers(self) -> list[SetTimer]:
        """Timers set and not cancelled or fired yet."""
        live: dict[int, SetTimer] = {}
        for effect in self.effects:
            if isinstance(effect, SetTimer):
                live[effect.timer] = effect
            elif isinstance(effect, CancelTimer):
                live.pop(effect.timer, None)
        return sorted((t for t in live.values() if t.timer not in self.fired), key=lambda t: t.due)

    def kinds(self) -> list[str]:
        return [entry.kind for entry in self.journal]

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [entry.detail for entry in self.journal if entry.kind == kind]

    # ------------------------------------------------------------ shortcuts

    def complete(self, output: Any = None, at: float | None = None) -> Transition:
        return self.feed(TaskCompleted(dispatch_id=self.dispatch().dispatch_id, output=output), at)

    def fail_task(
        self,
        name: str = "TASK_ERROR",
        message: str = "boom",
        business: bool = False,
        content: Any = None,
        at: float | None = None,
    ) -> Transition:
        dispatch = self.dispatch()
        return self.feed(
            TaskFailed(
                dispatch_id=dispatch.dispatch_id, name=name, message=message, business=business, content=content
            ),
            at,
        )

    def fire(self, timer: SetTimer | None = None) -> Transition:
        target = timer or self.pending_timers()[0]
        return self.feed(TimerFired(timer=target.timer), at=max(self.now, target.due))

    def event(self, name: str, payload: Any = None, correlation: str | None = None, event_id: str = "e1") -> Transition:
        return self.feed(EventArrived(event_id=event_id, name=name, payload=payload, correlation=correlation))
