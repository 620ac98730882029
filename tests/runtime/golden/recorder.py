"""Recording a golden scenario: a tiny driver that feeds the interpreter
inputs named the way a test reads (``done("charge")``, ``fire()``), resolves
them against the current state into concrete inputs (dispatch ids, timer
numbers), and records each (input, now) with the transition it gave.

Only the generator uses this module; the replay reads the recorded concrete
inputs and never looks inside the state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from golden.canon import Json, RunState, limits_of, plain, policies_of, spec_of, spec_plain, state_of
from golden.replay import outcome
from wfc.runtime.interpreter import (
    Cancel,
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    EventArrived,
    Halt,
    Input,
    Limits,
    ReassignUserTask,
    Redeliver,
    ReleaseUserTask,
    Resume,
    Retry,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
)
from wfc.specs import WorkflowSpec

#: Where every recorded run's clock starts: a round number, easy to read in diffs.
START = 1000.0


class Recorder:
    """Runs one scenario and keeps what a golden file holds."""

    def __init__(
        self,
        spec: WorkflowSpec,
        inputs: Mapping[str, Any] | None = None,
        *,
        run_id: str = "r1",
        policies: Mapping[str, TaskPolicy] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.doc: Json = {"spec": spec_plain(spec), "steps": []}
        if policies is not None:
            self.doc["policies"] = plain(dict(policies))
        if limits is not None:
            self.doc["limits"] = plain(limits)
        # Everything below goes through the recorded builtins, exactly as the replay reads them.
        self.spec = spec_of(self.doc["spec"])
        self.policies = policies_of(self.doc.get("policies"))
        self.limits = limits_of(self.doc.get("limits"))
        self.now = START
        self.events = 0
        self.state: RunState | None = None
        self._record({"now": self.now, "begin": {"run_id": run_id, "inputs": plain(dict(inputs or {}))}})

    def _record(self, record: Json) -> Json:
        expect = outcome(self.spec, self.state, record, self.policies, self.limits)
        record["expect"] = expect
        self.doc["steps"].append(record)
        if "state" in expect:
            self.state = state_of(expect["state"])
        return expect

    def _run(self) -> RunState:
        if self.state is None:
            raise AssertionError("the run did not start")
        return self.state

    # ------------------------------------------------------------ inputs

    def feed(self, event: Input, after: float = 1.0) -> Json:
        """Apply ``event`` ``after`` seconds after the previous step."""
        self.now += after
        return self._record({"now": self.now, "input": plain(event)})

    def crash(self, message: str, name: str = "INTERNAL_ERROR", after: float = 1.0) -> Json:
        """What the engine does when applying an input raised."""
        self.now += after
        return self._record({"now": self.now, "crash": {"message": message, "name": name}})

    def done(self, task: str, output: Any = None, after: float = 1.0, nth: int = 0) -> Json:
        """The attempt of ``task`` in flight (the ``nth`` one) completes."""
        return self.feed(TaskCompleted(dispatch_id=self.dispatch_id(task, nth), output=output), after)

    def fail(
        self,
        task: str,
        name: str = "TASK_ERROR",
        message: str = "boom",
        *,
        business: bool = False,
        content: Any = None,
        after: float = 1.0,
        nth: int = 0,
    ) -> Json:
        """The attempt of ``task`` in flight fails (technical unless ``business``)."""
        dispatch_id = self.dispatch_id(task, nth)
        event = TaskFailed(dispatch_id=dispatch_id, name=name, message=message, business=business, content=content)
        return self.feed(event, after)

    def redeliver(self, task: str, after: float = 1.0) -> Json:
        """The process running the attempt of ``task`` died."""
        return self.feed(Redeliver(dispatch_id=self.dispatch_id(task)), after)

    def fire(self, after: float = 0.0) -> Json:
        """The earliest timer of the run fires, when it is due (or ``after``
        seconds from now if that is later)."""
        timers = sorted(pending_timers(self._run()), key=lambda pair: (pair[1], pair[0]))
        if not timers:
            raise AssertionError("the run has no timer set")
        timer, due = timers[0]
        self.now = max(self.now + after, due)
        return self._record({"now": self.now, "input": plain(TimerFired(timer=timer))})

    def event(
        self,
        name: str,
        payload: Any = None,
        *,
        correlation: str | None = None,
        event_id: str | None = None,
        after: float = 1.0,
    ) -> Json:
        """An external event arrives (ids ``e1``, ``e2``... unless given)."""
        if event_id is None:
            self.events += 1
            event_id = f"e{self.events}"
        return self.feed(EventArrived(event_id=event_id, name=name, payload=payload, correlation=correlation), after)

    def halt(self, reason: str = "", after: float = 1.0) -> Json:
        """An operator halts the run."""
        return self.feed(Halt(reason=reason), after)

    def resume(self, after: float = 1.0) -> Json:
        """An operator resumes the run."""
        return self.feed(Resume(), after)

    def cancel(self, reason: str = "", compensate: bool = False, after: float = 1.0) -> Json:
        """An operator cancels the run."""
        return self.feed(Cancel(reason=reason, compensate=compensate), after)

    def retry(self, after: float = 1.0) -> Json:
        """An operator retries the run."""
        return self.feed(Retry(), after)

    def claim(self, user: str, nth: int = 0, after: float = 1.0) -> Json:
        """``user`` claims the ``nth`` open user task."""
        return self.feed(ClaimUserTask(task_id=self.user_task(nth), user=user), after)

    def release(self, by: str | None = None, nth: int = 0, after: float = 1.0) -> Json:
        """The ``nth`` open user task is released to its group."""
        return self.feed(ReleaseUserTask(task_id=self.user_task(nth), by=by), after)

    def reassign(
        self, user: str | None = None, group: str | None = None, by: str | None = None, nth: int = 0,
        after: float = 1.0,
    ) -> Json:  # fmt: skip
        """The ``nth`` open user task is reassigned."""
        return self.feed(ReassignUserTask(task_id=self.user_task(nth), user=user, group=group, by=by), after)

    def complete(self, values: dict[str, Any], by: str | None = None, nth: int = 0, after: float = 1.0) -> Json:
        """Someone submits the form of the ``nth`` open user task."""
        return self.feed(CompleteUserTask(task_id=self.user_task(nth), values=values, by=by), after)

    def cancel_task(self, reason: str = "", by: str | None = None, nth: int = 0, after: float = 1.0) -> Json:
        """The ``nth`` open user task is cancelled."""
        return self.feed(CancelUserTask(task_id=self.user_task(nth), reason=reason, by=by), after)

    # ------------------------------------------------------------ resolving

    def user_task(self, nth: int = 0) -> str:
        """The id of the ``nth`` open user task of the run, threads by number."""
        found = [w.id for w in _waits(self._run()) if hasattr(w, "form")]
        if len(found) <= nth:
            raise AssertionError(f"no open user task #{nth}; open: {found}")
        return found[nth]

    def dispatch_id(self, task: str, nth: int = 0) -> str:
        """The dispatch id of the ``nth`` attempt of ``task`` the run awaits."""
        found = [dispatch for name, dispatch in in_flight(self._run()) if name == task]
        if len(found) <= nth:
            raise AssertionError(f"no attempt #{nth} of {task!r} in flight; in flight: {in_flight(self._run())}")
        return found[nth]


def _waits(state: RunState) -> Iterator[Any]:
    """Every wait the run holds: its threads', the compensation's and the
    forward tasks drained before a compensation (read by attribute, so the
    recorder does not depend on the state's class names)."""
    for thread in state.threads.values():
        if thread.wait is not None:
            yield thread.wait
            # A user task's timers and reminder attempts.
            yield from getattr(thread.wait, "timers", [])
            yield from getattr(thread.wait, "reminder_attempts", [])
    saga = state.saga
    if saga is not None:
        yield from (draining.wait for draining in saga.draining)
        if saga.wait is not None:
            yield saga.wait


def in_flight(state: RunState) -> list[tuple[str, str]]:
    """(task, dispatch id) of every attempt the run awaits, threads by number first."""
    return [(w.task, w.dispatch_id) for w in _waits(state) if getattr(w, "dispatch_id", None) is not None]


def pending_timers(state: RunState) -> list[tuple[int, float]]:
    """(timer, due) of every timer the run has set."""
    return [(w.timer, w.due) for w in _waits(state) if getattr(w, "timer", None) is not None]
