"""The worker behind every ``WorkflowThread`` call: the graph of one thread.

A :class:`GraphBuilder` keeps one *open edge*: the edge out of the last node,
waiting for the next node. Its mutations are the ``assign``/``mutate`` calls
made since that node. ``WorkflowThread`` is made of groups of calls, one module
per concern (variables, tasks, control flow, waits, user tasks, threads,
failures); each group is a :class:`CallGroup` and reaches the graph only
through the builder it holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wfc.dsl.errors import DslError
from wfc.dsl.handles import Expression, to_expression
from wfc.dsl.recording import Problem, RecordedEdge, RecordedNode, RecordedThread, Recording
from wfc.dsl.source import Source, caller_source
from wfc.specs import TERMINAL_NODES, Node

if TYPE_CHECKING:
    from wfc.dsl.thread import WorkflowThread

ThreadBody = Callable[["WorkflowThread"], Any]
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


def safe_id(base: str, fallback: str) -> str:
    """``base`` with every run of characters an id may not hold replaced by
    ``-``; ``fallback`` when nothing is left."""
    return _ID_UNSAFE.sub("-", base).strip("-") or fallback


class GraphBuilder:
    """The nodes one thread has recorded so far, and its open edge.

    Attributes:
        recording: Everything the workflow function has recorded.
        thread: The thread this builder adds nodes to.
        owner: The ``WorkflowThread`` the user calls, which bodies receive.
        open: The edge waiting for the next node; ``None`` once the thread ended.
        additions: How many nodes and mutations were added; ``IfChain`` uses
            it to tell that nothing came between ``do_if`` and ``do_elif``.
    """

    def __init__(self, recording: Recording, thread: RecordedThread, owner: WorkflowThread) -> None:
        self.recording = recording
        self.thread = thread
        self.owner = owner
        self.open: RecordedEdge | None = None
        self.additions = 0

    def check_active(self, verb: str) -> Source:
        """Refuse a call made after recording, or on a thread that is not the
        one being recorded; else the user's ``file:line`` of the call."""
        source = caller_source()
        if self.recording.finished:
            raise DslError(
                f"wf.{verb}() was called after workflow {self.recording.name!r} was recorded. DSL calls "
                "only work while the workflow function runs, i.e. inside Workflow(...).compile()",
                str(source),
            )
        if self.recording.active[-1] is not self.owner:
            inner = self.recording.active[-1].name
            raise DslError(
                f"wf.{verb}() was called on thread {self.thread.name!r} while thread {inner!r} was being "
                f"recorded; inside a spawned thread, interrupt or failure handler, call the "
                "WorkflowThread passed to that function (lambda t: t.execute(...))",
                str(source),
            )
        return source

    def problem(self, message: str, source: Source) -> None:
        """Record a problem the compiler reports with the others."""
        self.recording.problems.append(Problem(message, source))

    def _new_id(self, base: str) -> str:
        base = safe_id(base, "node")
        if base in ("entrypoint", "exit") and base not in self.thread.id_counts:
            self.thread.id_counts[base] = 0
        while True:
            count = self.thread.id_counts.get(base, 0) + 1
            self.thread.id_counts[base] = count
            node_id = base if count == 1 else f"{base}-{count}"
            if node_id not in self.thread.nodes:
                return node_id

    def add_node(self, base: str, kind: type[Node], fields: dict[str, Any], source: Source) -> RecordedNode:
        """Add a node at the open edge; the edge out of it is the new open
        edge, unless the node ends the thread."""
        node = RecordedNode(self._new_id(base), kind, fields, self.thread, source)
        self.thread.nodes[node.id] = node
        self.additions += 1
        if self.open is not None:
            self.open.to = node.id
        if issubclass(kind, TERMINAL_NODES):
            self.open = None
        else:
            self.open = RecordedEdge(to="")
            node.edges.append(self.open)
        return node

    def expr(self, value: object) -> Expression:
        """``value`` (a handle of this workflow or a JSON value) as an expression."""
        return to_expression(value, self.recording)


class CallGroup:
    """Base of the groups of calls ``WorkflowThread`` is made of.

    Each group reaches the graph only through ``_core``, the one
    :class:`GraphBuilder` a ``WorkflowThread`` makes for itself; ``IfChain``
    and ``record_thread`` reach it the same way.
    """

    _core: GraphBuilder

    @property
    def name(self) -> str:
        """The name of the thread being recorded (``main`` for the entrypoint)."""
        return self._core.thread.name
