"""Threads: recording one (``record_thread``), spawning children, waiting for
them, ending one with ``wf.complete``, and interrupt handlers."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from wfc.dsl.bodies import refuse_async, refuse_awaitable
from wfc.dsl.builder import CallGroup, GraphBuilder, ThreadBody, safe_id
from wfc.dsl.checks import VARIABLE_NAME, check_stored_name, positive_seconds
from wfc.dsl.errors import DslError
from wfc.dsl.flow import IfChain
from wfc.dsl.handles import Expression, NodeOutput, SpawnedThread, to_expression
from wfc.dsl.recording import Problem, RecordedInterrupt, RecordedThread, RecordedVariable, Recording, ThreadKind
from wfc.dsl.source import Source
from wfc.specs import EntrypointNode, ExitNode, SpawnThreadForEachNode, SpawnThreadNode, VarType, WaitForThreadsNode

if TYPE_CHECKING:
    from wfc.dsl.thread import WorkflowThread

_THREAD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")


class ThreadStrategy(enum.StrEnum):
    """How ``wait_for_threads`` finishes.

    ``ALL`` waits for every child and fails as soon as one fails; ``FIRST``
    takes the first child to finish and halts the rest; ``ANY`` takes the
    first success and fails only when every child failed.
    """

    ALL = "ALL"
    FIRST = "FIRST"
    ANY = "ANY"


class ThreadCalls(CallGroup):
    """The calls of ``WorkflowThread`` that start, await, end and interrupt threads."""

    def spawn_thread(self, fn: ThreadBody, name: str, inputs: Mapping[str, object] | None = None) -> SpawnedThread:
        """Start a child thread running ``fn``; ``inputs`` set its variables."""
        core = self._core
        source = core.check_active("spawn_thread")
        exprs = _inputs(core, inputs, source)
        thread = record_child(core, fn, name, "child", source)
        node = core.add_node(f"spawn-{thread.name}", SpawnThreadNode, {"thread": thread.name, "inputs": exprs}, source)
        return SpawnedThread(node, thread, core.recording)

    def spawn_thread_for_each(
        self,
        items: object,
        fn: ThreadBody,
        name: str,
        inputs: Mapping[str, object] | None = None,
        item_var: str = "item",
    ) -> SpawnedThread:
        """Start one child thread per item of the list ``items``; each child
        finds its item in the variable ``item_var``."""
        core = self._core
        source = core.check_active("spawn_thread_for_each")
        if not isinstance(item_var, str) or not VARIABLE_NAME.fullmatch(item_var):
            raise DslError(
                f"item_var names the child's variable for its item: letters, digits, '_', '-', '.' or ':' "
                f"starting with a letter or '_', got {item_var!r}",
                str(source),
            )
        items_expr = core.expr(items)
        exprs = _inputs(core, inputs, source)
        thread = record_child(core, fn, name, "child", source, {item_var: "json"})
        fields = {"thread": thread.name, "items": items_expr, "item_var": item_var, "inputs": exprs}
        node = core.add_node(f"spawn-{thread.name}", SpawnThreadForEachNode, fields, source)
        return SpawnedThread(node, thread, core.recording)

    def wait_for_threads(
        self,
        *threads: SpawnedThread,
        strategy: ThreadStrategy | str = ThreadStrategy.ALL,
        timeout: float | None = None,
    ) -> NodeOutput:
        """Wait for child threads; returns a handle to their outputs, in spawn order."""
        core = self._core
        source = core.check_active("wait_for_threads")
        for thread in threads:
            if not isinstance(thread, SpawnedThread):
                raise DslError(f"wait_for_threads() takes what spawn_thread() returned, got {thread!r}", str(source))
            if thread.recording is not core.recording:
                raise DslError(
                    f"{thread!r} comes from another workflow (or another compile of this one); wait only for "
                    "threads this workflow function spawned",
                    str(source),
                )
        if not threads:
            raise DslError("wait_for_threads() needs at least one spawned thread", str(source))
        try:
            chosen = ThreadStrategy(strategy)
        except ValueError:
            raise DslError(f"strategy must be ALL, FIRST or ANY, got {strategy!r}", str(source)) from None
        spawn_nodes = [t.node for t in threads]
        fields = {"threads": spawn_nodes, "strategy": chosen.value,
                  "timeout": positive_seconds(timeout, "timeout", source)}
        return NodeOutput(core.add_node("wait-for-threads", WaitForThreadsNode, fields, source), core.recording)

    def complete(self, value: object = None) -> None:
        """End this thread, with ``value`` as its output."""
        core = self._core
        source = core.check_active("complete")
        core.add_node("exit", ExitNode, {"output": None if value is None else core.expr(value)}, source)

    def add_interrupt_handler(self, event_name: str, handler: ThreadBody) -> None:
        """When ``event_name`` arrives, pause this thread and its children,
        run ``handler`` (the payload is in its ``event`` variable), then resume."""
        core = self._core
        source = core.check_active("add_interrupt_handler")
        if not isinstance(event_name, str) or not event_name.strip():
            raise DslError(f"an event name is a non-empty string, got {event_name!r}", str(source))
        check_stored_name(event_name, "event name", source)
        first = next((i for i in core.thread.interrupts if i.event == event_name), None)
        if first is not None:
            core.problem(f"thread {self.name!r} already has an interrupt handler for event {event_name!r} "
                         f"(at {first.source}); register one handler per event, and do several things "
                         "inside it", source)
            return
        thread_name = unique_thread_name(core.recording, f"interrupt-{event_name}")
        thread = record_child(core, handler, thread_name, "interrupt", source, {"event": "json"})
        core.thread.interrupts.append(RecordedInterrupt(event_name, thread, source))


def _inputs(core: GraphBuilder, inputs: Mapping[str, object] | None, source: Source) -> dict[str, Expression]:
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
        raise DslError(
            f"inputs map the child's variable names to values, got {inputs!r}: {{\"sku\": sku}}", str(source)
        )
    return {name: core.expr(value) for name, value in inputs.items()}


def unique_thread_name(recording: Recording, base: str) -> str:
    """A name for a thread wfc names itself (handlers, interrupts): ``base``,
    else ``base-2``, ``base-3``, …"""
    # Built from node ids and the user's exception or event names: keep it a valid thread name.
    base = safe_id(base, "thread")
    name, count = base, 1
    while name in recording.threads:
        count += 1
        name = f"{base}-{count}"
    return name


#: What a thread function is called in an error, and how to write one.
BODY_KINDS = {
    "workflow": ("a workflow function", "def checkout(wf: WorkflowThread) -> None: ..."),
    "thread": ("a thread function", "def ship_item(t: WorkflowThread) -> None: ..."),
}


def record_child(
    core: GraphBuilder,
    fn: ThreadBody,
    name: str,
    kind: ThreadKind,
    source: Source,
    implicit: Mapping[str, VarType] | None = None,
) -> RecordedThread:
    """Record a thread started from ``core``'s thread: a child, a failure
    handler or an interrupt handler."""
    return record_thread(type(core.owner), core.recording, fn, name, kind, core.thread, source, implicit or {})


def record_thread(
    builder_type: type[WorkflowThread],
    recording: Recording,
    fn: ThreadBody,
    name: str,
    kind: ThreadKind,
    parent: RecordedThread | None,
    source: Source,
    implicit: Mapping[str, VarType],
) -> RecordedThread:
    """Run ``fn`` with a fresh builder of ``builder_type`` and return the thread it recorded."""
    if not callable(fn):
        raise DslError(
            f"a thread function must be callable, taking a WorkflowThread, got {fn!r}: "
            "def ship_item(t: WorkflowThread) -> None: ...",
            str(source),
        )
    body_kind = BODY_KINDS["workflow" if kind == "entrypoint" else "thread"]
    refuse_async(fn, *body_kind, source)
    if not isinstance(name, str) or not _THREAD_NAME.fullmatch(name):
        raise DslError(
            f"a thread name is letters, digits, '_', '-', '.' or ':' (no spaces), got {name!r}: "
            'wf.spawn_thread(ship, "ship-item")',
            str(source),
        )
    if name in recording.threads:
        recording.problems.append(Problem(
            f"thread name {name!r} is already used (at {recording.threads[name].source}); "
            "give each spawned thread its own name", source))
        name = f"{name}-{len(recording.threads) + 1}"
    thread = RecordedThread(name, kind, parent, source)
    for var_name, var_type in implicit.items():
        thread.variables[var_name] = RecordedVariable(var_name, var_type, thread, source, implicit=True)
    recording.threads[name] = thread
    builder = builder_type(recording, thread)
    core = builder._core
    core.add_node("entrypoint", EntrypointNode, {}, source)
    recording.active.append(builder)
    try:
        result = fn(builder)
        refuse_awaitable(result, *body_kind, source)
        if kind in ("entrypoint", "child") and _is_output(result) and core.open is not None:
            _check_output(result, recording, source)
            core.add_node("exit", ExitNode, {"output": core.expr(result)}, source)
        if core.open is not None:
            core.add_node("exit", ExitNode, {"output": None}, source)
    finally:
        recording.active.pop()
    return thread


def _is_output(result: object) -> bool:
    """Whether a thread function's return value is meant as its output."""
    return result is not None and not isinstance(result, IfChain)


def _check_output(value: object, recording: Recording, source: Source) -> None:
    """Refuse a returned value that cannot be a thread's output, at the thread's source."""
    if isinstance(value, Expression):
        return
    if isinstance(value, SpawnedThread):
        raise DslError(
            f"a thread function returned {value!r}; return wf.wait_for_threads(...)'s output instead",
            str(source),
        )
    try:
        to_expression(value, recording)
    except DslError as exc:
        raise DslError(f"the value a thread function returns is its output, and {exc}", str(source)) from None
