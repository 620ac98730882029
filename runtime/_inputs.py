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

from wfc.runtime._arguments import NAME_RULE, check_key, check_name, check_person, check_text, check_workflow
from wfc.runtime.errors import (
    RunInputsConflictError,
    RunStateError,
    UnexpectedEventError,
    UnknownUserTaskError,
    UsageError,
    UserTaskStateError,
    UserTaskValuesError,
)
from wfc.runtime.interpreter import Cancel, Halt, OperatorInput, Resume, Retry, prepare_inputs, refusal
from wfc.runtime.interpreter.messages import (
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    ReassignUserTask,
    ReleaseUserTask,
    UserTaskInput,
)
from wfc.runtime.interpreter.state import RunState, UserTaskStatus, UserTaskWait
from wfc.specs import FormDef, WorkflowSpec, form_problems, json_problems
from wfc.specs.errors import WfcError

if TYPE_CHECKING:
    from wfc.runtime._spec_cache import CachedSpec
    from wfc.runtime.interpreter import UserTaskRefusal
    from wfc.runtime.store import UserTaskRecord

_CANONICAL = msgspec.json.Encoder(order="sorted")
#: Run ids a URL path cannot hold: browsers resolve them (even percent-encoded) as
#: "this folder" and "the folder above".
_DOT_SEGMENTS: Final = frozenset({".", ".."})
_ACTIONS: Final = {Cancel: "cancel", Halt: "halt", Resume: "resume", Retry: "retry"}
#: What each user task input does, for messages.
USER_TASK_ACTIONS: Final[dict[type[UserTaskInput], str]] = {
    ClaimUserTask: "claim",
    ReleaseUserTask: "release",
    ReassignUserTask: "reassign",
    CompleteUserTask: "complete",
    CancelUserTask: "cancel",
}

# ---------------------------------------------------------------- arguments of the public methods


def check_run_id(run_id: object) -> None:
    """A run id given to an operator command: a non-empty, storable string
    (not held to :func:`check_name`: a run started before new ids were
    checked can still be steered)."""
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"run_id must be a non-empty string, got {run_id!r}")
    check_key(run_id, "run_id")


def check_start_args(workflow: object, inputs: object, run_id: object) -> None:
    """The arguments of ``start``, before anything is read. Every new run's
    id is checked here (the Python API, ``POST /api/v1/runs``, ``wfc run``):
    a name as :func:`check_name` takes it, since it is shown in every list.

    Raises:
        UsageError: a bad run id or workflow name, or ``inputs`` is not a mapping.
    """
    if run_id is not None:
        check_name(run_id, "run_id")
        if run_id in _DOT_SEGMENTS:
            raise UsageError(
                f"run_id {run_id!r} is not allowed: no URL can name it (a browser, and most HTTP clients, take "
                f"it for a folder of the path: the dashboard and GET /api/v1/runs/{{id}} could never reach the "
                f"run); {NAME_RULE}"
            )
    check_workflow(workflow)
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
    if run_id is not None:
        check_run_id(run_id)  # a list here would reach the database driver
    if correlation is not None and (isinstance(correlation, bool) or not isinstance(correlation, str | int)):
        # Its text is what waits match: a list would be matched as "['a']".
        raise UsageError(f"correlation must be a string (or an int, taken as its digits), got {correlation!r}")
    for value, what in ((name, "the event name"), (correlation, "correlation"), (event_id, "event_id")):
        check_key(value, what)
    problems = json_problems(payload)
    if problems:
        listed = "; ".join(f"{problem.path}: {problem.reason}" for problem in problems)
        raise UsageError(f"the payload of event {name!r} is not JSON wfc can store ({listed})")
    if run_id is None and correlation is None:
        raise UsageError(f"send_event({name!r}) needs run_id= or correlation= to know which run it is for")


# ---------------------------------------------------------------- user tasks


def check_reassign_args(user: object, group: object, by: object) -> None:
    """The arguments of ``reassign_user_task``.

    Raises:
        UsageError: neither a user nor a group, or a bad name.
    """
    check_person(user, "user")
    check_person(group, "group")
    check_person(by, "by")
    if user is None and group is None:
        raise UsageError("reassign_user_task needs user= or group= (or both): whom to give the task to")


def check_complete_args(values: object, user: object) -> Mapping[str, Any]:
    """The arguments of ``complete_user_task``: ``values`` a mapping by field name.

    Raises:
        UsageError: it is not, or a bad user name.
    """
    check_person(user, "user")
    if not isinstance(values, Mapping):
        raise UsageError(f"values must be a mapping of field name to value, got {type(values).__name__}")
    return values


def check_cancel_args(reason: object, by: object) -> str:
    """The arguments of ``cancel_user_task``.

    Raises:
        UsageError: a reason that is not a storable string, or a bad name.
    """
    check_person(by, "by")
    check_reason(reason)
    return str(reason)


def check_reason(reason: object) -> None:
    """The ``reason`` of an operator command or a cancelled user task:
    text, journaled as given (a number or a set would be stored as JSON
    of another type, an object would fail the commit).

    Raises:
        UsageError: it is not a storable string.
    """
    check_text(reason, "reason")


def check_form_values(task_id: str, form: FormDef, values: Mapping[str, Any]) -> None:
    """Values that complete a task of ``form``: the one check,
    :func:`~wfc.specs.form_problems`, made before anything is queued.

    Raises:
        UserTaskValuesError: naming every unknown, missing or mistyped field.
    """
    problems = form_problems(form, values)
    if problems:
        raise UserTaskValuesError(task_id, form.name, [(p.field, p.message) for p in problems])


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


def user_task_error(
    state: RunState, command: UserTaskInput, refused: UserTaskRefusal, stored: UserTaskRecord | None
) -> WfcError:
    """The error a caller gets for a user task input the run refuses (the
    interpreter's :func:`~wfc.runtime.interpreter.user_task_refusal`).

    A task the run no longer holds but that is stored closed (DONE or
    CANCELLED: ``stored``) is a conflict, not an unknown task.
    """
    action = USER_TASK_ACTIONS[type(command)]
    if refused.kind == "unknown":
        if stored is not None and not UserTaskStatus(stored.status).open:
            return UserTaskStateError(command.task_id, stored.status, action)
        return UnknownUserTaskError(command.task_id)
    if refused.kind == "invalid":
        problems = [(p.field, p.message) for p in refused.problems]
        return UserTaskValuesError(command.task_id, _form_of(state, command.task_id), problems)
    status = refused.status.value if refused.status is not None else "unknown"
    return UserTaskStateError(command.task_id, status, action, refused.message)


def _form_of(state: RunState, task_id: str) -> str:
    for thread in state.threads.values():
        if isinstance(thread.wait, UserTaskWait) and thread.wait.id == task_id:
            return thread.wait.form
    return ""
