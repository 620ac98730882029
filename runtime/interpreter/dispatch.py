"""Task attempts: the one place a :class:`~.messages.DispatchTask` is built.

Every dispatch goes through :func:`dispatch_effect`: a thread's new attempt,
a compensation's attempt, and the redelivery of an attempt that lost its
process (a thread's, a compensation's, or a forward task the saga awaits).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.messages import DispatchTask
from wfc.runtime.interpreter.state import RunState, TaskWait, ThreadRun
from wfc.specs import TaskNode


def new_attempt(task: str, key: str, attempt: int, args: list[Any], timeout: float | None) -> TaskWait:
    """The wait for attempt ``attempt`` of a task with idempotency key ``key``."""
    return TaskWait(
        dispatch_id=f"{key}#{attempt}", idempotency_key=key, task=task, attempt=attempt, args=args, timeout=timeout
    )


def holders(state: RunState, dispatch_id: str) -> Iterable[ThreadRun]:
    """The threads that may hold attempt ``dispatch_id``, as they are now,
    only for reading: the one its id names (a thread's attempts, its user
    task reminders' included, are keyed ``<run id>/<thread>/...``, see
    :mod:`.walk` and :mod:`.usertasks`), else every thread. Looking at every
    thread for each task result made a step of a run with many live threads
    cost that many times more."""
    prefix = state.id + "/"
    if dispatch_id.startswith(prefix):
        number = dispatch_id[len(prefix) :].partition("/")[0]
        if number.isdecimal():
            thread = dict.get(state.threads, int(number))  # not copied: only read
            return () if thread is None else (thread,)
    return state.threads.values()


def dispatch_effect(state: RunState, thread: int, node: str, wait: TaskWait) -> DispatchTask:
    """The effect that runs the attempt ``wait`` of node ``node`` of thread ``thread``."""
    return DispatchTask(
        dispatch_id=wait.dispatch_id,
        idempotency_key=wait.idempotency_key,
        run_id=state.id,
        workflow=state.workflow,
        thread=thread,
        node=node,
        task=wait.task,
        args=wait.args,
        attempt=wait.attempt,
        timeout=wait.timeout,
    )


def dispatch(
    step: Step, thread: ThreadRun, task: str, key: str, attempt: int, args: list[Any], timeout: float | None
) -> None:
    """Dispatch an attempt of a task and make the thread wait for it."""
    wait = new_attempt(task, key, attempt, args, timeout)
    thread.wait = wait
    step.effects.append(dispatch_effect(step.state, thread.number, thread.node, wait))
    node = step.node(thread, thread.node)
    exprs = node.args if isinstance(node, TaskNode) else []
    shown = [step.info.show(thread.name, exprs[i] if i < len(exprs) else None, v) for i, v in enumerate(args)]
    step.log(thread, "TASK_DISPATCHED", thread.node, attempt, task=task, args=shown, idempotency_key=key)
