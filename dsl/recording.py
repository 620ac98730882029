"""What the builder records while a workflow function runs.

The records are plain, mutable while recording and read-only afterwards. The
compiler lowers them to a :class:`wfc.specs.WorkflowSpec`; nothing here knows
the JSON format beyond the node classes it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wfc.dsl.source import Source
from wfc.specs import FormDef, Node, UserTaskAction, VarType

if TYPE_CHECKING:
    from wfc.dsl.handles import Expression

ThreadKind = Literal["entrypoint", "child", "handler", "interrupt"]


@dataclass(eq=False)
class RecordedVariable:
    """A ``declare_*`` call and the options chained onto it."""

    name: str
    type: VarType
    thread: RecordedThread
    source: Source
    required: bool = False
    default: Any = None
    masked: bool = False
    searchable: bool = False
    implicit: bool = False
    """Declared by wfc (``item``, ``failure``, ``event``), not by the user."""


@dataclass(eq=False)
class RecordedMutation:
    """A change to a variable, applied on the edge that leaves a node."""

    variable: RecordedVariable
    op: str
    value: Expression
    source: Source


@dataclass(eq=False)
class RecordedEdge:
    """An edge; ``to`` is filled in when the next node is known."""

    to: str
    when: Expression | None = None
    mutations: list[RecordedMutation] = field(default_factory=list)
    source: Source | None = None
    """Where the condition was written, when not at the node's own call."""


@dataclass(eq=False)
class RecordedHandler:
    """A ``handle_error``/``handle_exception``/``handle_any_failure`` call."""

    on: Literal["error", "exception", "any"]
    name: str | None
    thread: RecordedThread
    source: Source


@dataclass(eq=False)
class RecordedTimer:
    """A ``reassign_after``/``release_to_group_after``/``remind_after``/
    ``cancel_after`` call on a user task."""

    after: float
    action: UserTaskAction
    source: Source
    user: Expression | None = None
    group: Expression | None = None
    task: str | None = None
    args: list[Expression] = field(default_factory=list)

    def expressions(self) -> list[tuple[Expression, str]]:
        """Every expression the timer holds, with what it is for."""
        found = [(e, role) for e, role in ((self.user, "timer user"), (self.group, "timer group")) if e is not None]
        return found + [(arg, "reminder argument") for arg in self.args]


@dataclass(eq=False)
class RecordedForm:
    """A user task form, as first used by ``assign_user_task``."""

    definition: FormDef
    declared: Source
    """Where the ``UserTaskForm`` was written."""
    first_use: Source


@dataclass(eq=False)
class RecordedNode:
    """One node: its kind, its fields (expressions still as DSL handles),
    edges and handlers."""

    id: str
    kind: type[Node]
    fields: dict[str, Any]
    thread: RecordedThread
    source: Source
    edges: list[RecordedEdge] = field(default_factory=list)
    handlers: list[RecordedHandler] = field(default_factory=list)
    compensation: tuple[str, list[Expression], int, Source] | None = None
    reachable_in_builder: bool = True
    """False when the node was added after the thread had ended (after
    ``fail``/``complete``); the compiler reports it as unreachable."""


@dataclass(eq=False)
class RecordedInterrupt:
    """An ``add_interrupt_handler`` call."""

    event: str
    thread: RecordedThread
    source: Source


@dataclass(eq=False)
class RecordedThread:
    """One thread of the workflow: the entrypoint, a child, a handler or an
    interrupt handler."""

    name: str
    kind: ThreadKind
    parent: RecordedThread | None
    source: Source
    variables: dict[str, RecordedVariable] = field(default_factory=dict)
    duplicate_variables: list[tuple[RecordedVariable, RecordedVariable]] = field(default_factory=list)
    nodes: dict[str, RecordedNode] = field(default_factory=dict)
    interrupts: list[RecordedInterrupt] = field(default_factory=list)
    id_counts: dict[str, int] = field(default_factory=dict)

    def ancestors(self) -> list[RecordedThread]:
        """This thread's parent, grandparent, …, outermost last."""
        chain = []
        thread = self.parent
        while thread is not None:
            chain.append(thread)
            thread = thread.parent
        return chain

    def visible_variable(self, name: str) -> RecordedVariable | None:
        """The variable ``name`` as seen from this thread: its own first,
        then its ancestors'."""
        for thread in [self, *self.ancestors()]:
            if name in thread.variables:
                return thread.variables[name]
        return None


@dataclass(eq=False)
class Problem:
    """Something wrong with what was recorded, found while recording."""

    message: str
    source: Source


@dataclass(eq=False)
class Recording:
    """Everything one run of a workflow function recorded."""

    name: str
    threads: dict[str, RecordedThread] = field(default_factory=dict)
    entrypoint: RecordedThread | None = None
    problems: list[Problem] = field(default_factory=list)
    compensations_on_non_tasks: list[tuple[RecordedNode, Source]] = field(default_factory=list)
    forms: dict[str, RecordedForm] = field(default_factory=dict)
    """The user task forms used, by name."""
    finished: bool = False
    active: list[Any] = field(default_factory=list)
    """The stack of thread builders being recorded; only the innermost takes calls."""
