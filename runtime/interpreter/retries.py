"""The one retry/backoff scheduler, for task attempts and compensations alike.

A failed attempt with retries left becomes a :class:`~wfc.runtime.interpreter.state.RetryWait`
for the next attempt (same idempotency key) whose backoff is first held as
time left; :func:`arm` turns time left into a durable timer, :func:`pause`
turns a timer back into time left (a frozen thread, a halted saga). Sleeps,
the timeouts of waits and the timers of user tasks are paused and re-armed
the same way.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.messages import CancelTimer
from wfc.runtime.interpreter.policy import retry_delay
from wfc.runtime.interpreter.state import EventWait, RetryWait, SleepWait, TaskWait, ThreadsWait, UserTaskTimerState
from wfc.specs import Backoff

#: Waits that may hold a durable timer.
TimedWait = RetryWait | SleepWait | EventWait | ThreadsWait
#: What may hold a durable timer: those waits, and each timer of a user task.
Timed = TimedWait | UserTaskTimerState
W = TypeVar("W", bound=Timed)


def next_attempt(wait: TaskWait) -> RetryWait:
    """The next attempt of a task, same idempotency key, due at once."""
    return RetryWait(
        remaining=0.0,
        idempotency_key=wait.idempotency_key,
        task=wait.task,
        attempt=wait.attempt + 1,
        args=wait.args,
        timeout=wait.timeout,
    )


def retry_after(wait: TaskWait, retries: int, backoff: Backoff) -> RetryWait | None:
    """The next attempt after attempt ``wait.attempt`` failed with a technical
    error, its backoff held as time left (not armed yet); ``None`` when the
    ``retries`` allowed after the first attempt are used up."""
    if wait.attempt > retries:
        return None
    delay = retry_delay(backoff, wait.attempt, wait.idempotency_key)
    return RetryWait(
        idempotency_key=wait.idempotency_key,
        task=wait.task,
        attempt=wait.attempt + 1,
        args=wait.args,
        timeout=wait.timeout,
        remaining=delay,
    )


def kept_timer(wait: W, now: float) -> W:
    """``wait`` with its timer turned into the time that was left."""
    remaining = wait.remaining if wait.due is None else max(0.0, wait.due - now)
    return msgspec.structs.replace(wait, timer=None, due=None, remaining=remaining)


def pause(step: Step, wait: W) -> W:
    """Withdraw the timer of ``wait``; return the wait holding the time that was left."""
    kept = kept_timer(wait, step.now)
    if wait.timer is not None:
        step.effects.append(CancelTimer(timer=wait.timer))
    return kept


def arm(step: Step, wait: Timed) -> None:
    """Set a paused wait's timer with the time that was left (if any)."""
    if wait.remaining is None:
        return
    due = step.now + wait.remaining
    wait.timer = step.new_timer(due)
    wait.due = due
    wait.remaining = None
