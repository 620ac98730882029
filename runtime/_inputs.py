"""The one check of what callers send the engine: start inputs, event
payloads and names, operator commands (the keys stored in columns are
checked by :func:`~wfc.runtime._arguments.check_key`).

The public methods check what they can on their own (types, keys, JSON
payloads, inputs against the spec); each turn checks what depends on the run
as committed (a repeated start, an event for a finished run, an operator
command the run's status refuses). Each check is made here, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from wfc.runtime._arguments import check_key
from wfc.runtime.errors import RunInputsConflictError, RunStateError, UnexpectedEventError, UsageError
from wfc.runtime.interpreter import Cancel, Halt, OperatorInput, Resume, Retry, prepare_inputs, refusal
from wfc.runtime.interpreter.state import RunState
from wfc.specs import WorkflowSpec, json_problems

if TYPE_CHECKING:
    from wfc.runtime._spec_cache import CachedSpec

_CANONICAL = msgspec.json.Encoder(order="sorted")
_ACTIONS: Final = {Cancel: "cancel", Halt: "halt", Resume: "resume", Retry: "retry"}

# ---------------------------------------------------------------- arguments of the public methods


def check_run_id(run_id: object) -> None:
    """A run id given to start or to an operator command: a non-empty, storable string."""
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"run_id must be a non-empty string, got {run_id!r}")
    check_key(run_id, "run_id")


def check_start_args(workflow: object, inputs: object, run_id: object) -> None:
    """The arguments of ``start``, before anything is read.

    Raises:
        UsageError: a bad run id or workflow name, or ``inputs`` is not a mapping.
    """
    if run_id is not None:
        check_run_id(run_id)
    check_key(workflow, "the workflow name")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise UsageError(f"inputs must be a mapping of variable name to value, got {type(inputs).__name__}")


def start_variables(spec: WorkflowSpec, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The variables a run of ``spec`` starts with: ``inputs`` checked, plus defaults.

    Raises:
        InputError: listing every unknown, missing or mistyped input.
    """
    return prepare_inputs(spec, inputs)


def check_event_args(
    name: object, payload: object, run_id: str | None, correlation: str | None, event_id: str | None
) -> None:
    """The arguments of ``send_event``, before anything is read.

    Raises:
        UsageError: a bad name or key, a payload that is not storable JSON,
            or neither ``run_id`` nor ``correlation``.
    """
    if not isinstance(name, str) or not name:
        raise UsageError(f"an event name is a non-empty string, got {name!r}")
    for value, what in ((name, "the event name"), (run_id, "run_id"), (correlation, "correlation"),
                        (event_id, "event_id")):
        check_key(value, what)
    problems = json_problems(payload)
    if problems:
        listed = "; ".join(f"{problem.path}: {problem.reason}" for problem in problems)
        raise UsageError(f"the payload of event {name!r} is not JSON wfc can store ({listed})")
    if run_id is None and correlation is None:
        raise UsageError(f"send_event({name!r}) needs run_id= or correlation= to know which run it is for")


# ---------------------------------------------------------------- against the run as committed


def input_digests(run_id: str, variables: Mapping[str, Any]) -> dict[str, str]:
    """A digest of each input a run starts with (after defaults), by name.

    A repeated start compares digests, not values, so the run state does not
    hold a second copy of every input, masked ones included. The run id and
    the name are hashed in so that equal secrets give unequal digests.
    """
    return {name: _digest(run_id, name, value) for name, value in variables.items()}


def _digest(run_id: str, name: str, value: Any) -> str:
    hasher = hashlib.sha256()
    for part in (run_id.encode(), name.encode(), _CANONICAL.encode(value)):
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.hexdigest()


def check_same_inputs(state: RunState, masked: frozenset[str], variables: Mapping[str, Any]) -> None:
    """Refuse a start whose inputs (after defaults) differ from those run
    ``state`` started with (``masked``: the names of its masked variables).

    A run stored before wfc kept input digests has none: it cannot be
    compared, and a repeated start returns it as before. A run that forgot
    its secrets (it can never move again) has no digests of masked inputs,
    so those are not compared.

    Raises:
        RunInputsConflictError: naming every differing input (names only).
    """
    if not state.input_digests:
        return
    stored = state.input_digests
    given = input_digests(state.id, variables)
    differing = [
        name
        for name in given.keys() | stored.keys()
        # A finished run forgot its secrets, digests included: those cannot be compared.
        if (name in stored or name not in masked) and given.get(name) != stored.get(name)
    ]
    if differing:
        raise RunInputsConflictError(state.id, state.workflow, differing, sorted(masked))


def check_event(state: RunState, spec: CachedSpec, event: str) -> None:
    """Refuse an event run ``state`` cannot take: it finished, or its
    workflow never waits for that name.

    Raises:
        RunStateError: the run finished.
        UnexpectedEventError: listing the names the workflow does wait for.
    """
    if state.status.finished:
        raise RunStateError(state.id, state.status.value, f"send event {event!r}", "a finished run takes no events")
    if event not in spec.events:
        raise UnexpectedEventError(state.id, state.workflow, event, sorted(spec.events))


def check_operator(state: RunState, spec: WorkflowSpec, command: OperatorInput) -> None:
    """The one refusal path of operator commands (cancel, halt, resume,
    retry): the interpreter's :func:`~wfc.runtime.interpreter.refusal` says
    why the run's state refuses one, this raises it for the caller.

    Raises:
        RunStateError: naming the run, its status, the action and the reason.
    """
    reason = refusal(state, spec, command)
    if reason is not None:
        raise RunStateError(state.id, state.status.value, _ACTIONS[type(command)], reason)
