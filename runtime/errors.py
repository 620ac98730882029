"""Errors the runtime raises on purpose, all under :class:`~wfc.specs.WfcError`.

Each carries structured attributes (``run_id``, ``workflow``, ``variable`` ...)
so programs can react without parsing messages, and a message that says what
failed, where, and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfc.runtime._urls import redact_url
from wfc.runtime.interpreter.errors import InputError
from wfc.specs.errors import WfcError

__all__ = [
    "ConflictError",
    "CorruptDatabaseError",
    "DatabaseLockedError",
    "DatabaseUnavailableError",
    "DatabaseUnreachableError",
    "DatabaseUrlError",
    "DeployConflictError",
    "InputError",
    "MissingTablesError",
    "MissingTasksError",
    "NewerDatabaseError",
    "NotAWfcDatabaseError",
    "ReadOnlyDatabaseError",
    "RunIdConflictError",
    "RunInputsConflictError",
    "RunStateError",
    "StaleRunError",
    "StoreError",
    "TaskDefinitionError",
    "UnexpectedEventError",
    "UnknownRunError",
    "UnknownUserTaskError",
    "UnknownWorkflowError",
    "UnsupportedUrlError",
    "UsageError",
    "UserTaskStateError",
    "UserTaskValuesError",
    "WaitTimeoutError",
]


class UsageError(WfcError):
    """An engine method was called in a way that cannot work (bad argument
    combination, engine closed, ...)."""


class UnsupportedUrlError(WfcError):
    """The database URL names a scheme this wfc has no store for.

    Attributes:
        url: The URL as given, its password (if any) replaced by ``***``.
    """

    def __init__(self, url: str, supported: Sequence[str]) -> None:
        self.url = redact_url(url)
        self.supported = tuple(supported)
        super().__init__(f"cannot open {self.url!r}: unsupported database URL; use one of {', '.join(self.supported)}")


class StoreError(WfcError):
    """The database cannot be used: not a wfc database, written by a newer wfc,
    unreadable. The file is left untouched.

    Attributes:
        location: The database file or URL, its password (if any) replaced
            by ``***``; the message never shows a password either.
    """

    def __init__(self, location: str, message: str) -> None:
        self.location = redact_url(location)
        super().__init__(redact_url(f"cannot use database {self.location}: {message}"))


class NotAWfcDatabaseError(StoreError):
    """The file exists but was not created by wfc (or is not SQLite at all)."""


class NewerDatabaseError(StoreError):
    """The database was migrated by a newer wfc than this one.

    Attributes:
        found: Highest schema migration recorded in the database.
        supported: Highest schema migration this wfc knows.
    """

    def __init__(self, location: str, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            location,
            f"it was written by a newer wfc (schema version {found}; this wfc knows up to "
            f"{supported}); upgrade wfc to open it",
        )


class NewerRunStateError(StoreError):
    """A run's stored state was written by a newer wfc, in a format this one
    cannot read; the run is refused and left as it is.

    Attributes:
        run_id: The run.
        found: The run's state format.
        supported: The newest state format this wfc reads.
    """

    def __init__(self, location: str, run_id: str, found: int, supported: int) -> None:
        self.run_id = run_id
        self.found = found
        self.supported = supported
        super().__init__(
            location,
            f"run {run_id!r} was stored by a newer wfc (run state format {found}; this wfc reads formats up to "
            f"{supported}); nothing was changed. Upgrade wfc to read or continue this run",
        )


class UnreadableRunError(StoreError):
    """A run's row or stored state is not what wfc writes: it was changed
    outside wfc, or the file is damaged. The run is refused and left as it
    is; a listing shows it from its row, saying why.

    Attributes:
        run_id: The run.
        why: What is wrong with it, and what to do.
    """

    def __init__(self, location: str, run_id: str, why: str) -> None:
        self.run_id = run_id
        self.why = why
        super().__init__(location, f"run {run_id!r} cannot be read: {why}")


# ---------------------------------------------------------------- the database's environment (issue 8, item 4)
#
# Problems of the user's database or its surroundings, not bugs in wfc: each
# message says what is wrong with the database and what to do about it.


class ReadOnlyDatabaseError(StoreError):
    """A command that writes was given a database it may not write: a
    read-only file, a file in a read-only folder, or a read-only user."""


class DatabaseLockedError(StoreError):
    """Another process held the database's write lock for longer than wfc
    was configured to wait.

    Attributes:
        waited: Seconds waited for the lock.
    """

    def __init__(self, location: str, message: str, waited: float) -> None:
        self.waited = waited
        super().__init__(location, message)


class CorruptDatabaseError(StoreError):
    """The database file is damaged: SQLite cannot read its pages."""


class MissingTablesError(StoreError):
    """The database is marked as wfc's but tables wfc needs are gone.

    Attributes:
        missing: The names of the missing tables, sorted.
    """

    def __init__(self, location: str, message: str, missing: Sequence[str]) -> None:
        self.missing = tuple(sorted(missing))
        super().__init__(location, message)


class DatabaseUrlError(StoreError):
    """The database URL is malformed: bad port, no database name, an
    unparsable host or parameter."""


class DatabaseUnreachableError(StoreError):
    """The database server cannot be reached: the host does not resolve, or
    nothing accepts connections at its address."""


class DatabaseUnavailableError(StoreError):
    """A commit failed for a reason that may pass: the connection to the
    server was lost, the disk is full, the device failed a write. Nothing of
    the call was applied; call again once that is fixed."""


class StaleRunError(WfcError):
    """Internal: a run row changed under us (the optimistic version check
    failed).

    The engine retries the transition on fresh state; programs see this only
    if retrying did not help. Not a :class:`ConflictError`: nothing the caller
    asked for conflicts, another engine was merely faster.

    Attributes:
        run_ids: The runs whose stored version was not the expected one.
    """

    def __init__(self, run_ids: Sequence[str]) -> None:
        self.run_ids = tuple(run_ids)
        super().__init__(f"runs {', '.join(self.run_ids)} were changed by another engine during this transition; retry")


class ConflictError(WfcError):
    """What was asked conflicts with what is already stored: a run id taken by
    another run, a spec version deployed with other content. Retrying the same
    call fails the same way; the caller must change it.

    ``wfc`` exits with code 3 on these.
    """


class UnknownWorkflowError(WfcError):
    """No deployed spec has this workflow name (or this version of it).

    Attributes:
        workflow: The workflow name asked for.
        version: The version asked for, or ``None`` for "latest".
    """

    def __init__(self, workflow: str, version: str | None = None, known: Sequence[str] = ()) -> None:
        self.workflow = workflow
        self.version = version
        what = f"version {version} of workflow {workflow!r}" if version else f"workflow {workflow!r}"
        hint = (
            f"deployed versions: {', '.join(known)}"
            if known
            else "deploy its spec first with engine.deploy(spec) (wfc run deploys for you)"
        )
        super().__init__(f"{what} is not deployed; {hint}")


class DeployConflictError(ConflictError):
    """A different spec is already deployed under the same name and version.

    Attributes:
        workflow: The workflow name.
        version: The version, as ``"major.revision"``.
    """

    def __init__(self, workflow: str, version: str) -> None:
        self.workflow = workflow
        self.version = version
        super().__init__(
            f"version {version} of workflow {workflow!r} is already deployed with different content; "
            f"recompile with the deployed spec as `previous` (wfc compile does this) to get a new version"
        )


class MissingTasksError(WfcError):
    """A spec names tasks that no registered ``@task`` function implements.

    Attributes:
        workflow: The workflow name.
        missing: The task names without an implementation, sorted.
    """

    def __init__(self, workflow: str, missing: Sequence[str]) -> None:
        self.workflow = workflow
        self.missing = tuple(sorted(missing))
        super().__init__(
            f"workflow {workflow!r} uses tasks no registered function implements: "
            f"{', '.join(self.missing)}; pass their @task functions to Engine.open(url, tasks=[...])"
        )




class UnknownRunError(WfcError):
    """No run has this id.

    Attributes:
        run_id: The id asked for.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}; list runs with engine.list_runs() or `wfc runs list`")


class RunStateError(WfcError):
    """The run is not in a state that allows this action (e.g. an event for a
    finished run, cancelling a completed run).

    Attributes:
        run_id: The run.
        status: Its current status.
        action: What was refused.
    """

    def __init__(self, run_id: str, status: str, action: str, hint: str = "") -> None:
        self.run_id = run_id
        self.status = status
        self.action = action
        super().__init__(f"cannot {action}: run {run_id!r} is {status}" + (f"; {hint}" if hint else ""))


class UnknownUserTaskError(WfcError):
    """No user task has this id (or its run was deleted by retention).

    Attributes:
        task_id: The id given.
    """

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(
            f"no user task with id {task_id!r}; list them with engine.list_user_tasks() or `wfc tasks list`"
        )


class UserTaskStateError(ConflictError):
    """The user task's status (or its assignee) does not allow this action:
    completing a task that is DONE or CANCELLED, claiming one assigned to
    someone else, releasing one that has no group ...

    Attributes:
        task_id: The user task.
        status: Its current status (``UNASSIGNED``, ``ASSIGNED``, ``DONE``, ``CANCELLED``).
        action: What was refused (``claim``, ``release``, ``reassign``, ``complete``, ``cancel``).
    """

    def __init__(self, task_id: str, status: str, action: str, reason: str = "") -> None:
        self.task_id = task_id
        self.status = status
        self.action = action
        super().__init__(f"cannot {action} user task {task_id!r}: it is {status}" + (f"; {reason}" if reason else ""))


class UserTaskValuesError(WfcError):
    """The values given to complete a user task do not fit its form; the task
    stays open.

    Attributes:
        task_id: The user task.
        form: The name of its form.
        problems: ``(field, reason)`` for each unknown, missing or mistyped field.
    """

    def __init__(self, task_id: str, form: str, problems: Sequence[tuple[str, str]]) -> None:
        self.task_id = task_id
        self.form = form
        self.problems = [(str(field), str(reason)) for field, reason in problems]
        listed = "; ".join(f"{field}: {reason}" for field, reason in self.problems)
        super().__init__(f"cannot complete user task {task_id!r} with these values of form {form!r}: {listed}")


class RunIdConflictError(ConflictError):
    """``start`` was given the id of a run of another workflow.

    Attributes:
        run_id: The id given.
        workflow: The workflow of the existing run.
    """

    def __init__(self, run_id: str, workflow: str, requested: str) -> None:
        self.run_id = run_id
        self.workflow = workflow
        super().__init__(
            f"run id {run_id!r} is already used by a run of workflow {workflow!r}, not {requested!r}; "
            f"choose another run_id"
        )


class RunInputsConflictError(ConflictError):
    """``start`` was given the id of an existing run of the same workflow, but
    other inputs than that run started with.

    Inputs are compared after defaults are applied, so leaving out an input
    whose default is the value the run had is the same start. Masked inputs
    are named, never shown.

    Attributes:
        run_id: The id given.
        workflow: The workflow of the run.
        differing: The names of the inputs that differ, sorted.
        masked: Those of them that are masked.
    """

    def __init__(self, run_id: str, workflow: str, differing: Sequence[str], masked: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.differing = tuple(sorted(differing))
        self.masked = tuple(sorted(set(masked) & set(self.differing)))
        names = ", ".join(f"{name!r}" + (" (masked)" if name in self.masked else "") for name in self.differing)
        super().__init__(
            f"run id {run_id!r} is already used by a run of workflow {workflow!r} that started with other "
            f"inputs; these differ: {names}. Start with the same inputs to get that run back, or choose "
            f"another run_id"
        )


class UnexpectedEventError(UsageError):
    """An event was sent to a run whose workflow never waits for that name: no
    ``wait_for_event`` node and no interrupt handler in any of its threads, so
    the event could never be delivered.

    Attributes:
        run_id: The run.
        workflow: Its workflow.
        event: The event name sent.
        expected: The event names the workflow does wait for, sorted.
    """

    def __init__(self, run_id: str, workflow: str, event: str, expected: Sequence[str]) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.event = event
        self.expected = tuple(sorted(expected))
        waits = (
            f"it waits for: {', '.join(repr(name) for name in self.expected)}"
            if self.expected
            else "it waits for no event at all"
        )
        super().__init__(
            f"cannot send event {event!r} to run {run_id!r}: workflow {workflow!r} never waits for an event "
            f"of that name (no wait and no interrupt handler); {waits}. Check the event name"
        )


class WaitTimeoutError(WfcError, TimeoutError):
    """``Engine.wait`` gave up before the run finished. The run goes on.

    Attributes:
        run_id: The run waited for.
        timeout: Seconds waited.
    """

    def __init__(self, run_id: str, timeout: float) -> None:
        self.run_id = run_id
        self.timeout = timeout
        super().__init__(
            f"run {run_id!r} did not finish within {timeout:g} s; it keeps running, wait again or "
            f"look at engine.get_run(run_id)"
        )


class TaskDefinitionError(WfcError):
    """A ``@task`` function or the task list given to the engine is invalid.

    Attributes:
        task: The task name.
    """

    def __init__(self, task: str, message: str) -> None:
        self.task = task
        super().__init__(f"task {task!r}: {message}")
