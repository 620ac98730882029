"""The interpreter's base: run state plumbing, threads and failures.

The interpreter is built in layers, one concern per module: this base
(journal, timers, the work queue, thread lifecycle, failure handlers),
:mod:`.walk` (moving a thread through nodes) and :mod:`.machine` (inputs, and
the public :func:`~.machine.begin` / :func:`~.machine.step`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

from wfc.runtime.expressions import ExpressionError
from wfc.runtime.interpreter.messages import (
    AbandonTask,
    CancelTimer,
    Effect,
    JournalEntry,
    RunFinished,
    SetTimer,
    TaskPolicy,
    Transition,
    UnwatchEvent,
)
from wfc.runtime.interpreter.specinfo import SpecInfo, spec_info
from wfc.runtime.interpreter.variables import initial_variables
from wfc.runtime.state import (
    EventWait,
    Failure,
    HandlerWait,
    InboxEvent,
    RetryWait,
    RunState,
    RunStatus,
    SleepWait,
    TaskWait,
    ThreadKind,
    ThreadRun,
    ThreadStatus,
    Wait,
)
from wfc.specs import (
    FailureHandler,
    Node,
    VariableDef,
    WorkflowSpec,
)

#: Nodes one input may run before the run is failed with ``LOOP_LIMIT``: a
#: loop of nodes that never wait would otherwise never give control back.
STEP_BUDGET: Final = 10_000

#: Failures no handler may take: handling them would only repeat them.
UNHANDLEABLE: Final = frozenset({"LOOP_LIMIT", "NOT_SUPPORTED", "INTERNAL_ERROR"})

#: Node kinds this version cannot run yet, and the feature they need.
NOT_YET_SUPPORTED: Final = {
    "spawn_thread": "child threads are",
    "spawn_thread_for_each": "child threads are",
    "wait_for_threads": "child threads are",
    "compensate": "compensation (sagas) is",
}


class Scope:
    """Variables and outputs as seen from one thread."""

    def __init__(self, machine: MachineBase, thread: ThreadRun) -> None:
        self._machine = machine
        self._thread = thread

    def variable(self, name: str) -> Any:
        """Value of the nearest visible variable ``name``."""
        owner = self._machine.owner(self._thread, name)
        if owner is None:
            raise ExpressionError(f"variable {name!r} is not visible in thread {self._thread.name!r}")
        return owner.variables[name]

    def output(self, node: str) -> Any:
        """Latest output of ``node`` in this thread."""
        if node not in self._thread.outputs:
            raise ExpressionError(f"node {node!r} has not produced an output yet in thread {self._thread.name!r}")
        return self._thread.outputs[node]


class MachineBase:
    """State, spec and clock of one interpreter step, and what it produced."""

    def __init__(
        self, state: RunState, spec: WorkflowSpec, now: float, policies: Mapping[str, TaskPolicy] | None
    ) -> None:
        self.state = state
        self.spec = spec
        self.now = now
        self.policies: Mapping[str, TaskPolicy] = policies or {}
        self.info: SpecInfo = spec_info(spec)
        self.effects: list[Effect] = []
        self.journal: list[JournalEntry] = []
        self.budget = STEP_BUDGET
        self.queue: deque[tuple[int, str]] = deque()

    # ------------------------------------------------------------ plumbing

    def transition(self) -> Transition:
        """The result of this step."""
        if self.journal:
            self.state.updated_at = self.now
        return Transition(state=self.state, effects=self.effects, journal=self.journal)

    def log(
        self, thread: ThreadRun | None, what: str, node: str | None = None, attempt: int | None = None, **detail: Any
    ) -> None:
        """Append a journal entry; ``None`` details are left out."""
        self.state.seq += 1
        self.journal.append(
            JournalEntry(
                seq=self.state.seq,
                at=self.now,
                kind=what,
                thread=thread.number if thread is not None else 0,
                node=node,
                attempt=attempt,
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )

    def node(self, thread: ThreadRun, node_id: str) -> Node:
        """The spec node ``node_id`` of the thread."""
        return self.spec.threads[thread.name].nodes[node_id]

    def owner(self, thread: ThreadRun, name: str) -> ThreadRun | None:
        """The nearest thread, from ``thread`` up through its parents, that
        has variable ``name``."""
        current: ThreadRun | None = thread
        while current is not None:
            if name in current.variables:
                return current
            current = self.state.threads[current.parent] if current.parent is not None else None
        return None

    def var_def(self, thread: ThreadRun, name: str) -> VariableDef | None:
        """The declaration of ``name`` in ``thread`` (the workflow's for the entrypoint thread)."""
        defs = self.spec.variables if thread.number == 0 else self.spec.threads[thread.name].variables
        return defs.get(name)

    def new_timer(self, due: float) -> int:
        """Allocate a timer id and ask for a durable timer."""
        timer = self.state.next_timer
        self.state.next_timer += 1
        self.effects.append(SetTimer(timer=timer, due=due))
        return timer

    def waiting(self, match: Callable[[Wait], bool]) -> ThreadRun | None:
        """The first running thread whose wait matches."""
        for number in sorted(self.state.threads):
            thread = self.state.threads[number]
            if thread.status is ThreadStatus.RUNNING and thread.wait is not None and match(thread.wait):
                return thread
        return None

    def drain(self) -> None:
        """Run queued (thread, node) work until every thread waits or the run ends."""
        while self.queue and self.state.status is RunStatus.RUNNING:
            number, node_id = self.queue.popleft()
            self.run(self.state.threads[number], node_id)

    def proceed(self, thread: ThreadRun, node: Node, after_handler: bool = False) -> None:
        """Leave the current node along its edges, later in :meth:`drain`."""
        target = self.leave(thread, node, after_handler)
        if target is not None:
            self.queue.append((thread.number, target))

    # Node execution lives in the walking layer (walk.py); these two are all
    # the base needs of it.

    def run(self, thread: ThreadRun, node_id: str | None) -> None:
        """Move ``thread`` from ``node_id`` until it waits or ends."""
        raise NotImplementedError

    def leave(self, thread: ThreadRun, node: Node, after_handler: bool = False) -> str | None:
        """Take the node's edge; return the next node id."""
        raise NotImplementedError

    # ------------------------------------------------------------ threads and failures

    def expression_failure(self, thread: ThreadRun, node_id: str, exc: ExpressionError) -> Failure:
        """An ``EXPRESSION_ERROR`` failure of a node."""
        return Failure(name="EXPRESSION_ERROR", message=exc.reason, node=node_id, thread=thread.name)

    def unsupported(self, thread: ThreadRun, node_id: str, what: str) -> None:
        """Fail the run: ``what`` ("child threads are", ...) cannot run yet."""
        failure = Failure(
            name="NOT_SUPPORTED",
            node=node_id,
            thread=thread.name,
            message=f"{what} not supported by this wfc version yet (at node {node_id!r}); "
            f"run this workflow with a wfc that supports them",
        )
        self.log(thread, "NODE_FAILED", node_id, error=failure.name, message=failure.message)
        self.fail_thread(thread, failure)

    def fail_node(self, thread: ThreadRun, failure: Failure) -> None:
        """The current node of ``thread`` failed: run its handler, or fail the thread."""
        self.log(thread, "NODE_FAILED", thread.node, error=failure.name, message=failure.message, kind=failure.kind)
        node = self.node(thread, thread.node)
        handler = find_handler(node.handlers, failure)
        if handler is None:
            self.fail_thread(thread, failure)
            return
        self.log(
            thread,
            "FAILURE_HANDLER_STARTED",
            thread.node,
            handler=handler.thread,
            handler_thread=self.state.next_thread,
            error=failure.name,
        )
        child = self.spawn(handler.thread, "handler", thread, {"failure": failure.as_variable()})
        thread.wait = HandlerWait(handler=child.number, failure=failure)

    def spawn(self, name: str, kind: ThreadKind, parent: ThreadRun, given: dict[str, Any]) -> ThreadRun:
        """Start a thread run of thread spec ``name`` under ``parent``."""
        number = self.state.next_thread
        self.state.next_thread += 1
        problems: list[tuple[str, str]] = []
        defs = self.spec.threads[name].variables
        variables = initial_variables(defs, {k: v for k, v in given.items() if k in defs}, problems)
        variables.update({k: v for k, v in given.items() if k not in defs})
        child = ThreadRun(
            number=number, name=name, kind=kind, parent=parent.number, variables=variables, started_at=self.now
        )
        self.state.threads[number] = child
        self.log(child, "THREAD_STARTED", name=name, kind=kind, parent=parent.number)
        self.queue.append((number, "entrypoint"))
        return child

    def clear_wait(self, thread: ThreadRun) -> None:
        """Withdraw whatever the thread waits for (timers, dispatches, watches)."""
        match thread.wait:
            case TaskWait(dispatch_id=dispatch_id):
                self.effects.append(AbandonTask(dispatch_id=dispatch_id))
            case RetryWait(timer=timer) | SleepWait(timer=timer):
                self.effects.append(CancelTimer(timer=timer))
            case EventWait(timer=timer, correlation=correlation):
                if timer is not None:
                    self.effects.append(CancelTimer(timer=timer))
                if correlation is not None:
                    self.effects.append(UnwatchEvent(thread=thread.number))
            case _:
                pass
        thread.wait = None

    def fail_thread(self, thread: ThreadRun, failure: Failure) -> None:
        """End a thread with an unhandled failure: a handler's parent fails
        with it; the entrypoint thread's ends the run FAILED."""
        self.clear_wait(thread)
        thread.status = ThreadStatus.FAILED
        thread.failure = failure
        thread.ended_at = self.now
        if thread.parent is None:
            self.finish(RunStatus.FAILED, failure=failure)
            return
        self.log(thread, "THREAD_FAILED", thread.node, error=failure.name, message=failure.message)
        parent = self.state.threads[thread.parent]
        if thread.kind == "handler" and parent.status is ThreadStatus.RUNNING:
            # The handler of the parent's failed node failed: the parent fails
            # with the handler's failure, unhandled.
            parent.wait = None
            self.fail_thread(parent, failure)

    def complete_thread(self, thread: ThreadRun, output: Any, shown: Any) -> None:
        """End a thread with its output; a handler's parent then carries on after its failed node."""
        thread.status = ThreadStatus.COMPLETED
        thread.output = output
        thread.ended_at = self.now
        if thread.parent is None:
            self.finish(RunStatus.COMPLETED, output=output, shown_output=shown)
            return
        self.log(thread, "THREAD_COMPLETED", thread.node, output=shown)
        parent = self.state.threads[thread.parent]
        wait = parent.wait
        if thread.kind == "handler" and isinstance(wait, HandlerWait) and wait.handler == thread.number:
            parent.wait = None
            self.log(parent, "FAILURE_HANDLED", parent.node, error=wait.failure.name)
            self.proceed(parent, self.node(parent, parent.node), after_handler=True)

    def finish(
        self,
        status: RunStatus,
        output: Any = None,
        failure: Failure | None = None,
        shown_output: Any = None,
        reason: str | None = None,
    ) -> None:
        """End the run: halt every thread, withdraw their waits, journal it."""
        state = self.state
        for thread in state.threads.values():
            if thread.status is ThreadStatus.RUNNING:
                self.clear_wait(thread)
                thread.status = ThreadStatus.HALTED
                thread.ended_at = self.now
        state.status = status
        state.output = output
        state.failure = failure
        self.queue.clear()
        detail: dict[str, Any] = {}
        if status is RunStatus.COMPLETED:
            detail["output"] = shown_output
        if failure is not None:
            detail.update(error=failure.name, message=failure.message, failed_node=failure.node)
        if state.compensations and status is RunStatus.FAILED:
            detail["compensations_not_run"] = len(state.compensations)
        self.log(state.root, f"RUN_{status.value}", failure.node if failure else None, reason=reason, **detail)
        self.effects.append(RunFinished(status=status))


def matches(event: InboxEvent, name: str, correlation: str | None) -> bool:
    """An event matches a wait with the same name; a wait with a correlation
    key takes events with that key or none (sent by run id)."""
    if event.name != name:
        return False
    return correlation is None or event.correlation is None or event.correlation == correlation


def find_handler(handlers: list[FailureHandler], failure: Failure) -> FailureHandler | None:
    """The first handler that takes ``failure`` (kind, then name), if any."""
    if failure.name in UNHANDLEABLE:
        return None
    for handler in handlers:
        if handler.on in ("any", failure.kind) and handler.name in (None, failure.name):
            return handler
    return None
