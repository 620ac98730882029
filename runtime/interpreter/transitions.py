"""The public entry points: :func:`begin`, :func:`step`, :func:`crash`.

Each builds a :class:`~.context.Step`, applies its input, lets the run settle
and returns a :class:`~.messages.Transition` (new state, effects, journal).
None does I/O or reads a clock: ``now`` is an argument. A thread advances
through non-blocking nodes until it reaches one that waits (a task, an event,
a timer, a handler thread); the work is a queue of (thread, node) so deep
loops and nested handlers never recurse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.control import on_cancel, on_halt, on_resume, on_retry, refusal
from wfc.runtime.interpreter.copies import any_flags, fork, settled
from wfc.runtime.interpreter.interrupts import advance_interrupts, sync_freezes
from wfc.runtime.interpreter.messages import (
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
    Transition,
)
from wfc.runtime.interpreter.redaction import forget_secrets, redact
from wfc.runtime.interpreter.results import on_event, on_redeliver, on_task_completed, on_task_failed, on_timer
from wfc.runtime.interpreter.saga import advance_saga
from wfc.runtime.interpreter.secrets import Redactor
from wfc.runtime.interpreter.specinfo import SpecInfo
from wfc.runtime.interpreter.state import Failure, RunState, RunStatus, ThreadRun, clone_state
from wfc.runtime.interpreter.stopping import finish
from wfc.runtime.interpreter.threads import admit
from wfc.runtime.interpreter.usertasks import on_user_task, user_task_refusal
from wfc.runtime.interpreter.variables import prepare_inputs
from wfc.runtime.interpreter.walk import drain
from wfc.specs import WorkflowSpec

__all__ = ["begin", "crash", "step"]


def begin(
    spec: WorkflowSpec,
    run_id: str,
    inputs: Mapping[str, Any] | None,
    now: float,
    policies: Mapping[str, TaskPolicy] | None = None,
    limits: Limits | None = None,
    *,
    info: SpecInfo | None = None,
) -> Transition:
    """Create run ``run_id`` of ``spec`` and run it until every thread waits.

    ``info`` is the spec's :func:`~.specinfo.derive_spec_info`, derived here
    when not given.

    Raises:
        InputError: the inputs do not match the spec's variables.
    """
    variables = prepare_inputs(spec, inputs)
    state = RunState(id=run_id, workflow=spec.name, version=spec.version, created_at=now, updated_at=now)
    context = Step(state, spec, now, policies, limits, info)
    root = ThreadRun(number=0, name=spec.entrypoint, kind="entrypoint", variables=variables, started_at=now)
    context.add_thread(root)
    context.log(
        root,
        "RUN_STARTED",
        workflow=spec.name,
        version=str(spec.version),
        inputs=context.info.show_variables(dict(inputs or {})),
    )
    context.queue.append((0, "entrypoint"))
    settle(context)
    return transition(context)


def step(
    state: RunState,
    spec: WorkflowSpec,
    event: Input,
    now: float,
    policies: Mapping[str, TaskPolicy] | None = None,
    limits: Limits | None = None,
    *,
    info: SpecInfo | None = None,
) -> Transition:
    """Apply one input to a run. ``state`` is not changed; the new state is in
    the result. Inputs that no longer apply (a result for an attempt nobody
    waits for, a timer already cancelled, anything but a retry after the run
    finished, an operator command that makes no sense now — see
    :func:`~.control.refusal`) give a transition with no effects and no
    journal; so does a user task input :func:`~.usertasks.user_task_refusal`
    refuses. ``info`` as for :func:`begin`."""
    context = Step(fork(state), spec, now, policies, limits, info)
    if accepts(context, event):
        apply(context, event)
        settle(context)
    return transition(context)


def crash(
    state: RunState,
    spec: WorkflowSpec,
    message: str,
    now: float,
    name: str = "INTERNAL_ERROR",
    *,
    info: SpecInfo | None = None,
) -> Transition:
    """Fail a run with ``name``: what the engine does when applying an input
    raised instead of returning a transition (``INTERNAL_ERROR``, a wfc bug),
    or when the transition could not be committed (``RUN_SET_ASIDE``), so one
    broken run never stops the engine. No compensation runs: the run's state
    is not to be trusted further."""
    context = Step(clone_state(state), spec, now, None, info=info)
    if not context.state.status.finished:
        root = context.state.root
        failure = Failure(name=name, message=message, node=root.node, thread=root.name)
        finish(context, RunStatus.FAILED, failure=failure)
    return transition(context)


def accepts(context: Step, event: Input) -> bool:
    """True when ``event`` applies to the run in its current status."""
    if isinstance(event, Cancel | Halt | Resume | Retry):
        return refusal(context.state, context.spec, event) is None
    if isinstance(event, ClaimUserTask | ReleaseUserTask | ReassignUserTask | CompleteUserTask | CancelUserTask):
        return user_task_refusal(context.state, context.spec, event) is None
    return not context.state.status.finished


def apply(context: Step, event: Input) -> None:
    """Apply one input to the step's state."""
    match event:
        case TaskCompleted():
            on_task_completed(context, event)
        case TaskFailed():
            on_task_failed(context, event)
        case TimerFired(timer=timer):
            on_timer(context, timer)
        case EventArrived():
            on_event(context, event)
        case Cancel():
            on_cancel(context, event)
        case Halt():
            on_halt(context, event)
        case Resume():
            on_resume(context)
        case Retry():
            on_retry(context)
        case Redeliver(dispatch_id=dispatch_id):
            on_redeliver(context, dispatch_id)
        case ClaimUserTask() | ReleaseUserTask() | ReassignUserTask() | CompleteUserTask() | CancelUserTask():
            on_user_task(context, event)


def settle(context: Step) -> None:
    """Run the work the input caused until nothing more can happen now:
    threads move, freeze and thaw, queued children start, interrupts
    start, compensation goes on."""
    state = context.state
    while True:
        drain(context)
        if state.status.finished:
            return
        # Which of the slower passes can have work: from the flags of the
        # threads the step was given and of those it copied (see .copies),
        # so a run with 1,000 waiting children does not look at each per step.
        interrupts, suspended, queued = any_flags(state.threads)
        halted = state.status is RunStatus.HALTED
        changed = [
            (halted or interrupts or suspended) and sync_freezes(context),
            queued and admit(context),
            interrupts and advance_interrupts(context),
            state.saga is not None and advance_saga(context),
        ]
        if not any(changed) and not context.queue:
            return


def transition(context: Step) -> Transition:
    """The result of the step, with secrets taken out of what people read."""
    state = context.state
    if context.journal:
        state.updated_at = context.now
    info = context.info
    if info.has_secrets:
        redactor = Redactor([*context.secrets_before, *info.secret_values(state)])
        redact(context, redactor)
        if state.status.finished and refusal(state, context.spec, Retry()) is not None:
            forget_secrets(context, redactor)
    settled(state)
    return Transition(state=state, effects=context.effects, journal=context.journal)
