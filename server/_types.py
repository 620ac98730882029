"""The bodies of the API: requests, responses and query parameters, as
msgspec Structs. The same types decode requests, encode responses and
generate the OpenAPI document (:mod:`wfc.server._openapi`), so the document
cannot drift from what the server does.

New fields get defaults and existing field types never change (the API is
versioned by its path, ``/api/v1``).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from wfc.specs.limits import MAX_INT

#: Where the API is mounted.
PREFIX: Final = "/api/v1"

#: The largest request body accepted (1 MiB); a larger one gets 413.
MAX_BODY: Final = 1024 * 1024

#: Most items one page of runs or journal entries may hold.
MAX_PAGE = 1000

PageSize = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE, description=f"At most this many items (1 to {MAX_PAGE}).")]

#: A number compared with a stored one (a journal ``seq``, a thread): at most
#: what the stores bind, a signed 64-bit integer; a larger one is a 422, not
#: an OverflowError in the database driver.
StoredInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: an unknown field is an error, not silently ignored."""


class Status(enum.Enum):
    """A run's status (:class:`wfc.runtime.RunStatus`)."""

    RUNNING = "RUNNING"
    HALTED = "HALTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"
    CANCELLED = "CANCELLED"


# ---------------------------------------------------------------- problems


class FieldError(msgspec.Struct, kw_only=True):
    """Why one value of a request was refused (a user task form field)."""

    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An error, as RFC 9457 ``application/problem+json``."""

    type: str
    """A URI naming the kind of problem, e.g. ``urn:wfc:problem:unknown-run``."""
    title: str
    """A short summary of the kind of problem."""
    status: int
    """The HTTP status code."""
    detail: str
    """What went wrong in this case and what to do: the message the CLI prints."""
    errors: list[FieldError] = []
    """Each refused value, by field (a 422 for user task values); absent when empty."""


# ---------------------------------------------------------------- health


class Health(msgspec.Struct, kw_only=True):
    """``/healthz``: the process is up."""

    status: str = "ok"


class Readiness(msgspec.Struct, kw_only=True):
    """``/readyz``: the database answers and holds wfc's current schema."""

    status: str
    serving_engines: int
    """Engines serving the database now; with none, running runs wait."""


class Worker(msgspec.Struct, kw_only=True):
    """An engine registered on the database: a ``wfc worker``, ``wfc run``,
    ``wfc server --tasks`` or an embedded engine."""

    id: str
    host: str
    pid: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    alive: bool
    """A heartbeat within its lease, and (on the server's machine) its process exists."""
    tasks: list[str]
    leases: int
    """Attempts it holds now."""
    oldest_lease: dt.datetime | None


class WorkerList(msgspec.Struct, kw_only=True):
    """Every registered engine, oldest first."""

    workers: list[Worker]


class CountsQuery(Body):
    """Which runs to count."""

    workflow: str | None = None
    cap: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000
    """Each status is counted up to this many runs: a count equal to it means at least that many."""


class RunCounts(msgspec.Struct, kw_only=True):
    """Runs per status, each counted up to ``cap``."""

    counts: dict[str, int]
    cap: int


class AnalyticsQuery(Body):
    """Which workflow over which window."""

    workflow: str
    since: str = "1h"
    """The window's start: a duration before now (``30m``, ``24h``) or an ISO date/time."""
    sample: Annotated[int, msgspec.Meta(ge=1, le=20000)] = 2000
    """Most runs read (the newest of the window)."""


class StepTimes(msgspec.Struct, kw_only=True):
    """One node's task attempts in the window: dispatch-to-result seconds."""

    node: str
    attempts: int
    failed: int
    p50: float
    p95: float


class Analytics(msgspec.Struct, kw_only=True):
    """One workflow over a window, read from its newest ``runs`` runs."""

    workflow: str
    since: dt.datetime
    until: dt.datetime
    runs: int
    sampled: bool
    """The window held more runs than were read."""
    bucket: int
    """Seconds per bucket of ``started`` (60, or more for long windows: at most 120 buckets)."""
    started: list[tuple[dt.datetime, int]]
    """(bucket start, runs started in it), oldest first."""
    statuses: dict[str, int]
    failure_rate: float | None
    compensation_rate: float | None
    steps: list[StepTimes]


# ---------------------------------------------------------------- specs


class SpecSummary(msgspec.Struct, kw_only=True):
    """One deployed spec version."""

    name: str
    version: str
    """``major.revision``."""
    hash: str
    threads: list[str]
    tasks: list[str]
    """The task names its nodes run."""


class SpecList(msgspec.Struct, kw_only=True):
    """Deployed spec versions, by name then version."""

    specs: list[SpecSummary]


class GraphFormat(enum.Enum):
    """How a graph is drawn."""

    MERMAID = "mermaid"
    DOT = "dot"


class GraphQuery(Body):
    """Query parameters of the graph of a spec."""

    format: GraphFormat = GraphFormat.MERMAID
    thread: str | None = None
    """Draw only this thread."""


class Graph(msgspec.Struct, kw_only=True):
    """A spec drawn as Mermaid or Graphviz dot text (as ``wfc graph``)."""

    name: str
    version: str
    format: GraphFormat
    text: str


class DiffQuery(Body):
    """Query parameters of a diff between two deployed versions."""

    old: str
    """The earlier version, ``major.revision``."""
    new: str
    """The later version, ``major.revision``."""


class SpecRef(msgspec.Struct, kw_only=True):
    """A spec version named in a diff."""

    name: str
    version: str


class InterfaceChange(msgspec.Struct, kw_only=True):
    """A change of the workflow's inputs or outputs."""

    description: str
    breaking: bool


class NodeChange(msgspec.Struct, kw_only=True):
    """A node added, removed or changed."""

    thread: str
    node: str
    change: str
    detail: str


class SpecDiff(msgspec.Struct, kw_only=True):
    """What changed between two versions and the version bump it needs (as ``wfc diff --json``)."""

    old: SpecRef
    new: SpecRef
    bump: str
    required_version: str
    summary: str
    interface: list[InterfaceChange]
    nodes: list[NodeChange]
    threads_added: list[str]
    threads_removed: list[str]
    other: list[str]


# ---------------------------------------------------------------- runs


class RunView(enum.Enum):
    """How much of each run a list shows. ``full``: every field. ``brief``:
    without ``variables``, ``masked``, ``output``, ``threads`` and
    ``pending_events`` (absent, not empty), for a table of runs: a run's
    data can be large, and a dashboard refetches its page on every change."""

    FULL = "full"
    BRIEF = "brief"


class RunsQuery(Body):
    """Filters and paging of run lists. Moments are ISO 8601 date/times
    (UTC when no offset is given) or a duration before now: ``30m``, ``2h``, ``7d``."""

    status: list[Status] = []
    """Only runs with one of these statuses (repeat the parameter)."""
    workflow: str | None = None
    version: str | None = None
    """``major`` (any revision) or ``major.revision``; with ``workflow``."""
    started_after: str | None = None
    """Created at or after this moment."""
    started_before: str | None = None
    """Created before this moment."""
    updated_after: str | None = None
    """Last changed at or after this moment."""
    updated_before: str | None = None
    """Last changed before this moment."""
    needs_attention: bool | None = None
    """``true``: only runs whose compensation failed after its retries; ``false``: only the others."""
    stuck_for: str | None = None
    """Only runs stuck for longer than this, seconds (``300``) or a duration (``5m``, ``2h``): RUNNING
    with a task attempt dispatched earlier that no live worker holds, or a timer overdue by longer.
    Each run then says why in ``stuck``. Waiting for an event or sleeping is not stuck."""
    where: list[str] = []
    """``NAME:VALUE``: only runs whose searchable variable ``NAME`` has this
    value, read as its declared type (repeat the parameter: all must hold)."""
    limit: PageSize = 50
    cursor: str | None = None
    """``next_cursor`` of the previous page; the other parameters must be the same."""
    view: RunView = RunView.FULL
    """``brief``: each run without its data (see :class:`RunView`)."""


class DeadLetterKind(enum.Enum):
    """Which dead letters: every FAILED run, or only those whose compensation failed."""

    ALL = "all"
    COMPENSATION_FAILED = "compensation_failed"
    FAILED = "failed"


class DeadLettersQuery(Body):
    """Filters and paging of dead letters (FAILED runs)."""

    kind: DeadLetterKind = DeadLetterKind.ALL
    """``failed``: runs that failed, compensation fine; ``compensation_failed``:
    runs whose compensation failed after its retries; ``all``: both."""
    workflow: str | None = None
    version: str | None = None
    started_after: str | None = None
    started_before: str | None = None
    updated_after: str | None = None
    updated_before: str | None = None
    where: list[str] = []
    """``NAME:VALUE`` on searchable variables, as for ``/runs``."""
    limit: PageSize = 50
    cursor: str | None = None
    view: RunView = RunView.FULL
    """``brief``: each run without its data (see :class:`RunView`)."""


class Failure(msgspec.Struct, kw_only=True):
    """Why a run or thread failed."""

    name: str
    """An error code (``TASK_ERROR``, ``TIMEOUT`` ...) or the name of a business exception."""
    message: str = ""
    node: str = ""
    """The node that failed."""
    thread: str = ""
    """The thread spec the node belongs to."""
    content: Any = None
    """Data attached to a business exception."""
    kind: str = "error"
    """``error`` (technical) or ``exception`` (business)."""


class Thread(msgspec.Struct, kw_only=True):
    """Where one thread of a run is."""

    number: int
    name: str
    kind: str
    parent: int | None
    status: str
    node: str
    waiting_on: str | None
    attempt: int | None
    halt_reason: str | None = None


class StuckReason(msgspec.Struct, kw_only=True):
    """One thing a stuck run is owed and nobody is doing."""

    kind: str
    """``dispatch``: a task attempt no live worker holds; ``timer``: a timer nobody fired."""
    since: dt.datetime
    """When the run should have moved on: the attempt's dispatch, or the timer's due time."""
    message: str
    task: str | None = None
    node: str | None = None
    attempt: int | None = None
    dispatch_id: str | None = None
    holder: str | None = None
    """The engine whose lease on the attempt expired; ``null``: nobody held it."""
    lease_expired_at: dt.datetime | None = None
    timer: int | None = None


def _brief(description: str) -> msgspec.Meta:
    """The description of a field the brief view leaves out, saying so. It
    goes into the OpenAPI document (msgspec reads no field docstrings),
    where such a field is not ``required``: a client must know when."""
    return msgspec.Meta(description=f"{description} Absent in the brief view (``view=brief`` on run lists).")


class Run(msgspec.Struct, kw_only=True):
    """A run as stored now; masked values read ``"***"`` everywhere.

    The brief view of a list (:class:`RunView`) leaves out the run's data:
    those fields are ``UNSET``, absent from the JSON, so "left out" cannot
    be mistaken for "empty".
    """

    id: str
    workflow: str
    version: str
    status: Status
    created_at: dt.datetime
    updated_at: dt.datetime
    node: str
    """The node the entrypoint thread is at."""
    waiting_on: list[str]
    """What each running thread (and a compensation in progress) waits for."""
    variables: Annotated[dict[str, Any], _brief("The workflow's variables.")] | UnsetType = UNSET
    masked: Annotated[list[str], _brief("Names of masked variables.")] | UnsetType = UNSET
    output: Annotated[Any, _brief("The exit node's output, once COMPLETED.")] | UnsetType = UNSET
    failure: Failure | None
    threads: Annotated[list[Thread], _brief("Where each thread is.")] | UnsetType = UNSET
    pending_events: Annotated[list[str], _brief("Events delivered but not consumed by a wait yet.")] | UnsetType = UNSET
    needs_attention: bool
    """FAILED because a compensation failed after its retries."""
    compensation: str | None
    stuck: list[StuckReason] = []
    """Why the run is stuck, oldest first: filled in lists with ``stuck_for`` only."""
    unreadable: str | None = None
    """Why a list could not read this run's stored state (written by a newer wfc, changed by hand): it is
    shown from its row alone, without variables, threads or output. Null for every readable run."""


class RunList(msgspec.Struct, kw_only=True):
    """One page of runs, newest first."""

    runs: list[Run]
    next_cursor: str | None
    """Give it as ``cursor`` for the next page; ``null`` on the last page."""


class StartRequest(Body):
    """Start a run; idempotent by ``run_id``."""

    workflow: str
    inputs: dict[str, Any] = {}
    run_id: str | None = None
    """The run's id; a random one if not given. The same id and inputs again
    return the existing run (200); other inputs are a conflict (409)."""
    version: str | None = None
    """``major.revision`` or ``major``; the latest deployed one if not given."""


class JournalQuery(Body):
    """Paging and filters of a run's journal."""

    after: StoredInt = 0
    """Only entries with ``seq`` greater than this (``next_after`` of the previous page)."""
    limit: PageSize = 100
    kind: list[str] = []
    """Only entries of these kinds (repeat the parameter), e.g. ``TASK_FAILED``."""
    node: str | None = None
    thread: StoredInt | None = None


class JournalEntry(msgspec.Struct, kw_only=True):
    """One transition of a run; masked values read ``"***"``."""

    seq: int
    timestamp: dt.datetime
    thread: int
    thread_name: str | None
    node: str | None
    kind: str
    attempt: int | None
    detail: dict[str, Any]


class Journal(msgspec.Struct, kw_only=True):
    """One page of a run's journal, in order."""

    entries: list[JournalEntry]
    next_after: int | None
    """Give it as ``after`` for the next page; ``null`` on the last page."""


class HaltRequest(Body):
    """Halt a run."""

    reason: str = ""


class CancelRequest(Body):
    """Cancel a run."""

    reason: str = ""
    compensate: bool = False
    """Undo the completed steps first (their compensations, in reverse order)."""


class EmptyRequest(Body):
    """No parameters (an empty body, or ``{}``)."""


class RunEvent(Body):
    """An event for one run."""

    name: str
    payload: Any = None
    event_id: str | None = None
    """Makes sending idempotent: a repeat with the same id does nothing."""


class CorrelatedEvent(Body):
    """An event for the run waiting for it with a correlation key."""

    name: str
    correlation: str
    payload: Any = None
    event_id: str | None = None
    """Makes sending idempotent: a repeat with the same id does nothing."""


class EventOutcome(msgspec.Struct, kw_only=True):
    """What became of an event (as ``wfc event send --json``)."""

    event: str
    event_id: str
    run_id: str | None
    """The run it went to; ``null`` when stored until a wait with its key appears."""
    duplicate: bool
    """An event with this id was sent before; nothing was delivered again."""


class RedriveRequest(Body):
    """Retry one dead letter (``run_id``) or every one the filter matches."""

    run_id: str | None = None
    kind: DeadLetterKind = DeadLetterKind.ALL
    workflow: str | None = None
    version: str | None = None
    started_after: str | None = None
    started_before: str | None = None
    updated_after: str | None = None
    updated_before: str | None = None
    where: list[str] = []
    """``NAME:VALUE`` on searchable variables, as for ``/runs``."""
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000
    """At most this many runs are retried by one request."""


class Refused(msgspec.Struct, kw_only=True):
    """A dead letter a re-drive could not retry, and why."""

    run_id: str
    detail: str


class RedriveOutcome(msgspec.Struct, kw_only=True):
    """What a re-drive did."""

    retried: list[str]
    refused: list[Refused]
    more: bool
    """More runs matched than ``limit``: send the request again for them."""


# ---------------------------------------------------------------- user tasks


class UserTaskStatus(enum.Enum):
    """Where a user task is (:class:`wfc.runtime.UserTaskStatus`)."""

    UNASSIGNED = "UNASSIGNED"
    ASSIGNED = "ASSIGNED"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class FormField(msgspec.Struct, kw_only=True):
    """One field of a user task form."""

    name: str
    type: str
    """``str``, ``int``, ``float``, ``bool`` or ``json``."""
    required: bool
    display_name: str | None
    """The label a person sees; the name when ``null``."""
    description: str


class Form(msgspec.Struct, kw_only=True):
    """What a person fills in to complete a user task, fields in the order shown."""

    name: str
    fields: list[FormField]


class UserTask(msgspec.Struct, kw_only=True):
    """Work for a person inside a run. Form values are shown as given (no masking)."""

    id: str
    run_id: str
    workflow: str
    version: str
    thread: int
    node: str
    form: Form
    status: UserTaskStatus
    user: str | None
    group: str | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    values: dict[str, Any] | None
    """The values it was completed with, as given; ``null`` until DONE."""
    completed_by: str | None
    """Who completed it; ``null`` for an operator, or while open."""


class UserTaskDetail(UserTask, kw_only=True):
    """A user task with its audit trail."""

    audit: list[JournalEntry]
    """The run's journal entries naming it, in order: assigned, claimed, released, reassigned,
    reminded, completed, cancelled, with who (``detail.by``) and when."""


class UserTaskList(msgspec.Struct, kw_only=True):
    """One page of user tasks, oldest first."""

    items: list[UserTask]
    next: str | None
    """Give it as ``after`` for the next page; ``null`` on the last page."""


Who = Annotated[str, msgspec.Meta(min_length=1, description="A user or group name (not empty).")]


class UserTasksQuery(Body):
    """Filters and paging of user tasks, oldest first."""

    user: Who | None = None
    """Only tasks assigned to this user."""
    group: Who | None = None
    """Only tasks of this group."""
    status: list[UserTaskStatus] = []
    """Only tasks with one of these statuses (repeat the parameter)."""
    run_id: str | None = None
    """Only the tasks of this run."""
    limit: PageSize = 100
    after: str | None = None
    """``next`` of the previous page (the last id seen); the other parameters must be the same."""


class ClaimRequest(Body):
    """Claim a user task."""

    user: Who
    """Who takes it: the task becomes ASSIGNED to them."""


class ReleaseRequest(Body):
    """Release a user task to its group."""

    by: Who | None = None
    """Who releases it (kept in the journal); ``null``: an operator."""


class ReassignRequest(Body):
    """Reassign a user task: at least one of ``user`` and ``group``."""

    user: Who | None = None
    group: Who | None = None
    """A group alone clears the user: the task is UNASSIGNED, offered to the group."""
    by: Who | None = None


class CompleteRequest(Body):
    """Complete a user task with values for its form."""

    values: dict[str, Any] = {}
    """Field name to value, of the field's type; an optional field may be left out."""
    user: Who | None = None
    """Who completes it: an ASSIGNED task only by its user; ``null``: an operator, who may complete any open task."""


class UserTaskCancelRequest(Body):
    """Cancel a user task: its node fails with ``USER_TASK_CANCELLED``."""

    reason: str = ""
    by: Who | None = None
