"""The interpreter's base: run state plumbing shared by every layer.

The interpreter is built in layers, one concern per module, each a class on
top of the previous one:

* this base: journal, timers, the work queue, looking threads up;
* :mod:`.threads`: thread lifecycle, failures and handlers, child threads and
  ``wait_for_threads``, the fan-out cap, ending the run;
* :mod:`.interrupts`: freezing and thawing threads, interrupts;
* :mod:`.saga`: compensation;
* :mod:`.walk`: moving a thread through its nodes;
* :mod:`.control`: operator inputs (halt, resume, cancel, retry);
* :mod:`.machine`: the other inputs, and the public :func:`~.machine.begin`
  / :func:`~.machine.step`.

Methods a lower layer needs from a higher one are declared here and
implemented there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import msgspec

from wfc.runtime.expressions import ExpressionError
from wfc.runtime.interpreter.messages import (
    DEFAULT_LIMITS,
    Effect,
    JournalEntry,
    Limits,
    SetTimer,
    TaskPolicy,
    Transition,
)
from wfc.runtime.interpreter.secrets import MASK, Redactor
from wfc.runtime.interpreter.specinfo import SpecInfo, spec_info
from wfc.runtime.state import (
    FailedWait,
    Failure,
    HandlerWait,
    InboxEvent,
    RetryWait,
    RunState,
    RunStatus,
    SagaCause,
    TaskWait,
    ThreadRun,
    ThreadStatus,
    Wait,
)
from wfc.specs import FailureHandler, Node, VariableDef, WorkflowSpec

#: Nodes one input may run before the run is failed with ``LOOP_LIMIT``: a
#: loop of nodes that never wait would otherwise never give control back.
STEP_BUDGET: Final = 10_000

#: Failures no handler may take: handling them would only repeat them.
UNHANDLEABLE: Final = frozenset({"LOOP_LIMIT", "NOT_SUPPORTED", "INTERNAL_ERROR"})


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
        self,
        state: RunState,
        spec: WorkflowSpec,
        now: float,
        policies: Mapping[str, TaskPolicy] | None,
        limits: Limits | None = None,
    ) -> None:
        self.state = state
        self.spec = spec
        self.now = now
        self.policies: Mapping[str, TaskPolicy] = policies or {}
        self.limits = limits or DEFAULT_LIMITS
        self.info: SpecInfo = spec_info(spec)
        self._secrets_before = self.info.secret_values(state)
        """Secret values as the step found them (a step may overwrite them)."""
        self.effects: list[Effect] = []
        self.journal: list[JournalEntry] = []
        self.budget = STEP_BUDGET
        self.queue: deque[tuple[int, str]] = deque()
        self._children: dict[int, list[int]] | None = None
        """Parent number -> child numbers, built on first use, dropped when a thread starts."""

    # ------------------------------------------------------------ plumbing

    def transition(self) -> Transition:
        """The result of this step, with secrets taken out of what people read."""
        if self.journal:
            self.state.updated_at = self.now
        if self.info.has_secrets:
            redactor = Redactor([*self._secrets_before, *self.info.secret_values(self.state)])
            self.redact(redactor)
            if self.state.status.finished and not self.retryable():
                self.forget_secrets(redactor)
        return Transition(state=self.state, effects=self.effects, journal=self.journal)

    def redact(self, redactor: Redactor) -> None:
        """The one place secrets are kept out of the record: every journal
        detail and every failure message and content of the new state has the
        run's secret texts replaced by ``"***"`` (error messages quote values,
        task exceptions may name their arguments). Variables, outputs and task
        arguments keep their real values: the run needs them."""
        if not redactor:
            return
        self.journal = [
            msgspec.structs.replace(entry, detail=redactor.value(entry.detail)) if entry.detail else entry
            for entry in self.journal
        ]
        state = self.state
        state.failure = _redact_failure(state.failure, redactor)
        if state.saga is not None:
            state.saga.failure = _redact_failure(state.saga.failure, redactor)
        for thread in state.threads.values():
            thread.failure = _redact_failure(thread.failure, redactor)
            wait = thread.wait
            if isinstance(wait, HandlerWait | FailedWait):
                wait.failure = _redact_failure(wait.failure, redactor) or wait.failure

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

    def forget_secrets(self, redactor: Redactor) -> None:
        """Erase the secrets of a run that no input can move any more: its
        masked variables become ``"***"`` and the secret texts leave every
        other value the state keeps (outputs, task and compensation
        arguments, queued events), so the database does not keep them.
        A FAILED run that may be retried keeps them: the retry needs them."""
        state = self.state
        state.output = redactor.value(state.output)
        # A digest of a short secret (a PIN) is as good as the secret to anyone
        # who can try every value: it goes too.
        state.input_digests = {k: v for k, v in state.input_digests.items() if k not in self.info.masked}
        for thread in state.threads.values():
            thread.variables = {
                k: (MASK if k in self.info.masked and v is not None else redactor.value(v))
                for k, v in thread.variables.items()
            }
            thread.outputs = redactor.value(thread.outputs)
            thread.output = redactor.value(thread.output)
            _redact_args(thread.wait, redactor)
        for record in state.compensations:
            record.args = redactor.value(record.args)
        for event in state.inbox:
            event.payload = redactor.value(event.payload)
        if state.saga is not None:
            _redact_args(state.saga.wait, redactor)
            for draining in state.saga.draining:
                _redact_args(draining.wait, redactor)

    def node(self, thread: ThreadRun, node_id: str) -> Node:
        """The spec node ``node_id`` of the thread."""
        return self.spec.threads[thread.name].nodes[node_id]

    def parent(self, thread: ThreadRun) -> ThreadRun | None:
        """The thread's parent, ``None`` for the entrypoint thread."""
        return self.state.threads[thread.parent] if thread.parent is not None else None

    def owner(self, thread: ThreadRun, name: str) -> ThreadRun | None:
        """The nearest thread, from ``thread`` up through its parents, that
        has variable ``name``."""
        current: ThreadRun | None = thread
        while current is not None:
            if name in current.variables:
                return current
            current = self.parent(current)
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

    def ordered(self) -> Iterator[ThreadRun]:
        """Every thread run, by number (creation order). Numbers are handed
        out in increasing order and dicts (and their JSON) keep insertion
        order, so the dict's own order is already by number."""
        return iter(list(self.state.threads.values()))

    def children(self, number: int) -> list[int]:
        """Numbers of the threads whose parent is thread ``number``."""
        if self._children is None:
            index: dict[int, list[int]] = {}
            for other in self.state.threads.values():
                if other.parent is not None:
                    index.setdefault(other.parent, []).append(other.number)
            self._children = index
        return self._children.get(number, [])

    def subtree(self, thread: ThreadRun) -> list[ThreadRun]:
        """``thread`` and every thread below it, parents before children."""
        found: list[ThreadRun] = []
        pending = deque([thread.number])
        while pending:
            number = pending.popleft()
            found.append(self.state.threads[number])
            pending.extend(self.children(number))
        return found

    def waiting(self, match: Callable[[Wait], bool]) -> ThreadRun | None:
        """The first running, unfrozen thread whose wait matches."""
        for thread in self.ordered():
            if (
                thread.status is ThreadStatus.RUNNING
                and thread.wait is not None
                and not thread.suspended
                and match(thread.wait)
                and not self.frozen(thread)
            ):
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

    def ended(self, thread: ThreadRun, status: ThreadStatus) -> None:
        """Mark a thread ended with ``status``."""
        thread.status = status
        thread.ended_at = self.now
        self.state.ended_threads += 1
        thread.ended_seq = self.state.ended_threads
        thread.suspended = False

    def expression_failure(self, thread: ThreadRun, node_id: str, exc: ExpressionError) -> Failure:
        """An ``EXPRESSION_ERROR`` failure of a node."""
        return Failure(name="EXPRESSION_ERROR", message=exc.reason, node=node_id, thread=thread.name)

    # Implemented by higher layers; declared here for the lower ones.

    def run(self, thread: ThreadRun, node_id: str | None) -> None:
        """Move ``thread`` from ``node_id`` until it waits or ends (:mod:`.walk`)."""
        raise NotImplementedError

    def leave(self, thread: ThreadRun, node: Node, after_handler: bool = False) -> str | None:
        """Take the node's edge; return the next node id (:mod:`.walk`)."""
        raise NotImplementedError

    def frozen(self, thread: ThreadRun) -> bool:
        """True when the thread may not move now (:mod:`.interrupts`)."""
        raise NotImplementedError

    def retryable(self) -> bool:
        """True when an operator's retry would move this run on (:mod:`.control`)."""
        raise NotImplementedError

    def compensable(self) -> bool:
        """True when the run has completed steps to compensate (:mod:`.saga`)."""
        raise NotImplementedError

    def start_saga(self, cause: SagaCause, failure: Failure | None, reason: str | None = None) -> None:
        """Stop every thread and compensate the completed steps (:mod:`.saga`)."""
        raise NotImplementedError


def _redact_args(wait: Wait | None, redactor: Redactor) -> None:
    if isinstance(wait, TaskWait | RetryWait):
        wait.args = redactor.value(wait.args)
    elif isinstance(wait, FailedWait) and wait.rerun is not None:
        wait.rerun.args = redactor.value(wait.rerun.args)


def _redact_failure(failure: Failure | None, redactor: Redactor) -> Failure | None:
    if failure is None:
        return None
    message, content = redactor.text(failure.message), redactor.value(failure.content)
    if message == failure.message and content == failure.content:
        return failure
    return msgspec.structs.replace(failure, message=message, content=content)


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
