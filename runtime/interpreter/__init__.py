"""The pure interpreter: ``(state, input, now) -> (state, effects, journal)``.

No I/O, no clock, no randomness: the engine shell feeds inputs and applies the
effects after committing the new state and journal in one transaction.
"""

from wfc.runtime.interpreter.control import refusal
from wfc.runtime.interpreter.machine import STEP_BUDGET, UNHANDLEABLE, begin, crash, step
from wfc.runtime.interpreter.messages import (
    DEFAULT_LIMITS,
    AbandonTask,
    Cancel,
    CancelTimer,
    DispatchTask,
    Effect,
    EventArrived,
    Halt,
    Input,
    JournalEntry,
    Limits,
    OperatorInput,
    Redeliver,
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
    WatchEvent,
)
from wfc.runtime.interpreter.policy import effective_backoff, effective_retries, effective_timeout, retry_delay
from wfc.runtime.interpreter.secrets import MASK, Redactor, mask_variables
from wfc.runtime.interpreter.specinfo import SpecInfo, spec_info
from wfc.runtime.interpreter.variables import coerce, prepare_inputs

__all__ = [
    "DEFAULT_LIMITS",
    "MASK",
    "STEP_BUDGET",
    "UNHANDLEABLE",
    "AbandonTask",
    "Cancel",
    "CancelTimer",
    "DispatchTask",
    "Effect",
    "EventArrived",
    "Halt",
    "Input",
    "JournalEntry",
    "Limits",
    "OperatorInput",
    "Redactor",
    "Redeliver",
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
    "WatchEvent",
    "begin",
    "coerce",
    "crash",
    "effective_backoff",
    "effective_retries",
    "effective_timeout",
    "mask_variables",
    "prepare_inputs",
    "refusal",
    "retry_delay",
    "spec_info",
    "step",
]
