"""The pure interpreter: ``(state, input, now) -> (state, effects, journal)``.

No I/O, no clock, no randomness: the engine shell feeds inputs and applies the
effects after committing the new state and journal in one transaction.

Modules, each importing only modules listed before it (free functions over
one :class:`~.context.Step`; no module calls up into a later one):

1. leaves: ``messages`` (inputs, effects, journal), ``secrets`` (masking),
   ``policy`` (retry policy values), ``variables`` (types, inputs, mutations),
   ``specinfo`` (facts derived once per spec, owned by the caller),
   ``copies`` (copy-on-write of the threads a step changes), ``migration``
   (a run's state moved onto another version of its workflow);
2. ``context``: the step context (state, spec, info, now, policies, limits,
   effects, journal, queue of moves) and its plumbing;
3. ``retries`` (the one retry/backoff scheduler and timer pause/arm),
   ``dispatch`` (the one factory of task dispatches), ``compensations``
   (recording undoable steps), ``edges`` (edge choice and mutations),
   ``redaction`` (secrets out of the record), ``userrecords`` (a user
   task's id, its row for the shell, closing it);
4. ``stopping``: stopping threads, ending the run;
5. ``saga``: running compensations;
6. ``threads``: starting threads, leaving nodes, failures and handlers,
   ``wait_for_threads``;
7. ``inbox``: events for ``wait_for_event``; ``usertasks``: user tasks
   (assigning, what people and timers do to them, reminders, refusals);
8. ``interrupts``: freezing, thawing, interrupts;
9. ``walk``: entering nodes, draining the queue of moves;
10. ``control``: operator commands and their refusals;
11. ``results``: task results, timers, events, redeliveries;
12. ``transitions``: :func:`begin`, :func:`step`, :func:`crash`.

The names below are imported on first use (:pep:`562`): whoever only
decodes a stored run (``state``) or masks its values (``secrets``) does not
load the transitions.
"""

from typing import TYPE_CHECKING, Any

from wfc.specs._lazy import export, listing

if TYPE_CHECKING:
    from wfc.runtime.interpreter.context import STEP_BUDGET, UNHANDLEABLE
    from wfc.runtime.interpreter.control import refusal
    from wfc.runtime.interpreter.messages import (
        DEFAULT_LIMITS,
        AbandonTask,
        Cancel,
        CancelTimer,
        CancelUserTask,
        ClaimUserTask,
        CompleteUserTask,
        DispatchTask,
        Effect,
        EventArrived,
        Halt,
        Input,
        JournalEntry,
        Limits,
        OperatorInput,
        ReassignUserTask,
        Redeliver,
        ReleaseUserTask,
        Resume,
        Retry,
        RunFinished,
        SetTimer,
        TaskCompleted,
        TaskFailed,
        TaskPolicy,
        TimerFired,
        Transition,
        UnwatchEvent,
        UserTaskChanged,
        UserTaskInput,
        WatchEvent,
    )
    from wfc.runtime.interpreter.policy import effective_backoff, effective_retries, effective_timeout, retry_delay
    from wfc.runtime.interpreter.secrets import MASK, Redactor, mask_variables
    from wfc.runtime.interpreter.specinfo import SpecInfo, derive_spec_info
    from wfc.runtime.interpreter.transitions import begin, crash, step
    from wfc.runtime.interpreter.userrecords import user_task_id
    from wfc.runtime.interpreter.usertasks import UserTaskRefusal, user_task_refusal
    from wfc.runtime.interpreter.variables import coerce, prepare_inputs

#: The module each public name is defined in.
_HOMES: dict[str, str] = {
    "STEP_BUDGET": "wfc.runtime.interpreter.context",
    "UNHANDLEABLE": "wfc.runtime.interpreter.context",
    "refusal": "wfc.runtime.interpreter.control",
    "DEFAULT_LIMITS": "wfc.runtime.interpreter.messages",
    "AbandonTask": "wfc.runtime.interpreter.messages",
    "Cancel": "wfc.runtime.interpreter.messages",
    "CancelTimer": "wfc.runtime.interpreter.messages",
    "DispatchTask": "wfc.runtime.interpreter.messages",
    "Effect": "wfc.runtime.interpreter.messages",
    "EventArrived": "wfc.runtime.interpreter.messages",
    "Halt": "wfc.runtime.interpreter.messages",
    "Input": "wfc.runtime.interpreter.messages",
    "JournalEntry": "wfc.runtime.interpreter.messages",
    "Limits": "wfc.runtime.interpreter.messages",
    "OperatorInput": "wfc.runtime.interpreter.messages",
    "Redeliver": "wfc.runtime.interpreter.messages",
    "Resume": "wfc.runtime.interpreter.messages",
    "Retry": "wfc.runtime.interpreter.messages",
    "RunFinished": "wfc.runtime.interpreter.messages",
    "SetTimer": "wfc.runtime.interpreter.messages",
    "TaskCompleted": "wfc.runtime.interpreter.messages",
    "TaskFailed": "wfc.runtime.interpreter.messages",
    "TaskPolicy": "wfc.runtime.interpreter.messages",
    "TimerFired": "wfc.runtime.interpreter.messages",
    "Transition": "wfc.runtime.interpreter.messages",
    "UnwatchEvent": "wfc.runtime.interpreter.messages",
    "WatchEvent": "wfc.runtime.interpreter.messages",
    "ClaimUserTask": "wfc.runtime.interpreter.messages",
    "ReleaseUserTask": "wfc.runtime.interpreter.messages",
    "ReassignUserTask": "wfc.runtime.interpreter.messages",
    "CompleteUserTask": "wfc.runtime.interpreter.messages",
    "CancelUserTask": "wfc.runtime.interpreter.messages",
    "UserTaskInput": "wfc.runtime.interpreter.messages",
    "UserTaskChanged": "wfc.runtime.interpreter.messages",
    "effective_backoff": "wfc.runtime.interpreter.policy",
    "effective_retries": "wfc.runtime.interpreter.policy",
    "effective_timeout": "wfc.runtime.interpreter.policy",
    "retry_delay": "wfc.runtime.interpreter.policy",
    "MASK": "wfc.runtime.interpreter.secrets",
    "Redactor": "wfc.runtime.interpreter.secrets",
    "mask_variables": "wfc.runtime.interpreter.secrets",
    "SpecInfo": "wfc.runtime.interpreter.specinfo",
    "derive_spec_info": "wfc.runtime.interpreter.specinfo",
    "begin": "wfc.runtime.interpreter.transitions",
    "crash": "wfc.runtime.interpreter.transitions",
    "step": "wfc.runtime.interpreter.transitions",
    "user_task_id": "wfc.runtime.interpreter.userrecords",
    "UserTaskRefusal": "wfc.runtime.interpreter.usertasks",
    "user_task_refusal": "wfc.runtime.interpreter.usertasks",
    "coerce": "wfc.runtime.interpreter.variables",
    "prepare_inputs": "wfc.runtime.interpreter.variables",
}


def __getattr__(name: str) -> Any:
    return export(__name__, _HOMES, globals(), name)


def __dir__() -> list[str]:
    return listing(globals())


__all__ = [
    "DEFAULT_LIMITS",
    "MASK",
    "STEP_BUDGET",
    "UNHANDLEABLE",
    "AbandonTask",
    "Cancel",
    "CancelTimer",
    "CancelUserTask",
    "ClaimUserTask",
    "CompleteUserTask",
    "DispatchTask",
    "Effect",
    "EventArrived",
    "Halt",
    "Input",
    "JournalEntry",
    "Limits",
    "OperatorInput",
    "ReassignUserTask",
    "Redactor",
    "Redeliver",
    "ReleaseUserTask",
    "Resume",
    "Retry",
    "RunFinished",
    "SetTimer",
    "SpecInfo",
    "TaskCompleted",
    "TaskFailed",
    "TaskPolicy",
    "TimerFired",
    "Transition",
    "UnwatchEvent",
    "UserTaskChanged",
    "UserTaskInput",
    "UserTaskRefusal",
    "WatchEvent",
    "begin",
    "coerce",
    "crash",
    "derive_spec_info",
    "effective_backoff",
    "effective_retries",
    "effective_timeout",
    "mask_variables",
    "prepare_inputs",
    "refusal",
    "retry_delay",
    "step",
    "user_task_id",
    "user_task_refusal",
]
