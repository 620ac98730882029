"""Node kinds of a thread's graph, edges, mutations and failure handlers.

Each node kind is a small frozen Struct; :data:`Node` is the tagged union on
``kind``. New fields always get defaults, so older specs keep decoding.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from wfc.specs.expressions import Expr


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Common options of every spec record."""


MutationOp = Literal[
    "assign", "add", "subtract", "multiply", "divide", "append", "extend", "remove", "remove_key"
]

#: Mutation operators, in the order the documentation lists them.
MUTATION_OPS: tuple[MutationOp, ...] = (
    "assign", "add", "subtract", "multiply", "divide", "append", "extend", "remove", "remove_key"
)


class Mutation(_Spec, frozen=True):
    """A change to a variable applied when its edge is taken."""

    var: str
    """Name of the variable to change."""
    op: MutationOp
    """``assign`` replaces; ``add``/``subtract``/``multiply``/``divide`` do arithmetic
    (``add`` also concatenates strings and lists); ``append`` adds one item to a
    list; ``extend`` adds every item of a list; ``remove`` drops the first equal
    item of a list; ``remove_key`` drops a key of an object."""
    value: Expr
    """The operand, evaluated before the change."""


class Edge(_Spec, frozen=True):
    """A possible next step out of a node."""

    to: str
    """Id of the target node, in the same thread."""
    when: Expr | None = None
    """Condition; the first edge whose condition holds is taken, and an edge
    without one is the fallback, tried last."""
    mutations: list[Mutation] = []
    """Variable changes applied, in order, when the edge is taken."""


FailureKind = Literal["error", "exception", "any"]


class FailureHandler(_Spec, frozen=True):
    """Runs a handler thread when its node fails; the thread then carries on
    along the failed node's edges."""

    on: FailureKind
    """``error``: a technical error (retries exhausted, timeout, …);
    ``exception``: a business exception raised by a task or ``fail`` node;
    ``any``: either."""
    thread: str
    """Name of the handler thread."""
    name: str | None = None
    """Only failures with this name (an error code such as ``TIMEOUT``, or the
    exception name); ``None`` matches every failure of the kind."""


class Backoff(_Spec, frozen=True):
    """Exponential backoff between task attempts: ``initial * multiplier**n``,
    capped at ``maximum`` seconds, with jitter."""

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 60.0


class Compensation(_Spec, frozen=True):
    """The task that undoes a completed task when the run is compensated."""

    task: str
    args: list[Expr] = []
    retries: int = 3
    """Attempts after the first one; ``0`` means none. Unlike a task node's,
    it never takes the ``@task`` default."""


class NodeBase(_Spec, tag_field="kind", kw_only=True, frozen=True):
    """Fields every node has."""

    edges: list[Edge]
    """Where the thread may go next, tried in order; empty only on exit nodes."""
    handlers: list[FailureHandler] = []
    """What to do when this node fails, most specific first."""


class EntrypointNode(NodeBase, tag="entrypoint", kw_only=True, frozen=True):
    """Where a thread starts."""


class ExitNode(NodeBase, tag="exit", kw_only=True, frozen=True):
    """Where a thread ends; its output is the thread's output."""

    output: Expr | None = None


class TaskNode(NodeBase, tag="task", kw_only=True, frozen=True):
    """Runs a task; its output is the task's return value."""

    task: str
    args: list[Expr] = []
    retries: int | None = None
    """Attempts after the first one for technical errors; ``0`` turns retries
    off, and ``None`` (omitted from the JSON) leaves it to the task's
    ``@task(retries=...)`` default, else 0."""
    backoff: Backoff | None = None
    timeout: float | None = None
    """Seconds one attempt may take."""
    compensation: Compensation | None = None


class WaitForEventNode(NodeBase, tag="wait_for_event", kw_only=True, frozen=True):
    """Waits for an external event; its output is the event's payload."""

    event: str
    timeout: float | None = None
    """Seconds to wait before failing with ``TIMEOUT``."""
    correlation: Expr | None = None
    """Key that routes events sent by correlation to this wait."""


class SleepNode(NodeBase, tag="sleep", kw_only=True, frozen=True):
    """A durable timer of a number of seconds."""

    seconds: Expr


class SleepUntilNode(NodeBase, tag="sleep_until", kw_only=True, frozen=True):
    """A durable timer until a moment: epoch seconds or an ISO-8601 string."""

    until: Expr


class SpawnThreadNode(NodeBase, tag="spawn_thread", kw_only=True, frozen=True):
    """Starts a child thread; its output is the child's output, read through
    ``wait_for_threads``."""

    thread: str
    inputs: dict[str, Expr] = {}
    """Values of the child's variables, by name."""


class SpawnThreadForEachNode(NodeBase, tag="spawn_thread_for_each", kw_only=True, frozen=True):
    """Starts one child thread per item of a list."""

    thread: str
    items: Expr
    item_var: str = "item"
    """The child's variable that receives its item."""
    inputs: dict[str, Expr] = {}


ThreadStrategy = Literal["ALL", "FIRST", "ANY"]


class WaitForThreadsNode(NodeBase, tag="wait_for_threads", kw_only=True, frozen=True):
    """Waits for children started by spawn nodes of the same thread; its
    output is their outputs, in spawn order."""

    threads: list[str]
    """Ids of the spawn nodes whose children are awaited."""
    strategy: ThreadStrategy = "ALL"
    timeout: float | None = None


class NopNode(NodeBase, tag="nop", kw_only=True, frozen=True):
    """Does nothing; joins and branches of ``do_if`` and ``do_while``."""


class FailNode(NodeBase, tag="fail", kw_only=True, frozen=True):
    """Raises a named business exception; the thread fails with it."""

    failure: str
    message: str = ""
    content: Expr | None = None


UserTaskAction = Literal["reassign", "release", "remind", "cancel"]


class UserTaskTimer(_Spec, frozen=True):
    """Something that happens to a user task still open ``after`` seconds
    from its assignment: a durable timer, dropped when the task is done or
    cancelled."""

    after: float
    action: UserTaskAction
    """``reassign`` to ``user``/``group``; ``release`` an assigned task back to
    its group; ``remind``: run ``task`` with ``args`` (its result changes
    nothing); ``cancel`` the task (its node fails with ``USER_TASK_CANCELLED``)."""
    user: Expr | None = None
    group: Expr | None = None
    task: str | None = None
    args: list[Expr] = []


class UserTaskNode(NodeBase, tag="user_task", kw_only=True, frozen=True):
    """Assigns work to a person: waits until someone completes the form
    ``form`` (its output is the submitted values, one key per field) or the
    task is cancelled (the node fails with ``USER_TASK_CANCELLED``)."""

    form: str
    """Name of a form in ``WorkflowSpec.forms``."""
    user: Expr | None = None
    group: Expr | None = None
    """At least one of ``user`` and ``group``; both evaluate to strings."""
    notes: Expr | None = None
    timers: list[UserTaskTimer] = []


class CompensateNode(NodeBase, tag="compensate", kw_only=True, frozen=True):
    """Runs the compensations of every completed step now, in reverse order
    of completion, then ends the run as ``COMPENSATED``."""


Node = (
    EntrypointNode
    | ExitNode
    | TaskNode
    | WaitForEventNode
    | SleepNode
    | SleepUntilNode
    | SpawnThreadNode
    | SpawnThreadForEachNode
    | WaitForThreadsNode
    | NopNode
    | FailNode
    | CompensateNode
    | UserTaskNode
)

#: Node kinds that end their thread and so have no edges.
TERMINAL_NODES = (ExitNode, FailNode, CompensateNode)


def node_kind(node: Node) -> str:
    """The ``kind`` tag of a node, e.g. ``"task"``."""
    return str(type(node).__struct_config__.tag)


#: Error codes of technical failures, for ``handle_error(..., error=CODE)``.
ERROR_CODES: tuple[str, ...] = (
    "TASK_ERROR",
    "TIMEOUT",
    "EXPRESSION_ERROR",
    "CHILD_FAILURE",
    "USER_TASK_CANCELLED",
)
