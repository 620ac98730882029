"""The step context: what one interpreter step reads and what it builds.

A :class:`Step` holds the run state being changed, the spec and its derived
facts, the clock, the task policies and limits, and what the step produces
(effects, journal, the queue of thread moves). Its methods are plumbing every
layer shares: the journal, timers, looking threads up, and whether a thread
may move (:meth:`Step.frozen`). The semantics live in the modules above, as
free functions taking the step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from wfc.runtime.interpreter.expressions import ExpressionError
from wfc.runtime.interpreter.messages import DEFAULT_LIMITS, Effect, JournalEntry, Limits, SetTimer, TaskPolicy
from wfc.runtime.interpreter.specinfo import SpecInfo, derive_spec_info
from wfc.runtime.interpreter.state import Failure, InboxEvent, RunState, RunStatus, ThreadRun, ThreadStatus, Wait
from wfc.specs import FailureHandler, Node, VariableDef, WorkflowSpec

#: Nodes one input may run before the run is failed with ``LOOP_LIMIT``: a
#: loop of nodes that never wait would otherwise never give control back.
STEP_BUDGET: Final = 10_000

#: Failures no handler may take: handling them would only repeat them.
UNHANDLEABLE: Final = frozenset({"LOOP_LIMIT", "NOT_SUPPORTED", "INTERNAL_ERROR"})


class Step:
    """State, spec and clock of one interpreter step, and what it produced."""

    __slots__ = (
        "_children",
        "budget",
        "effects",
        "info",
        "journal",
        "limits",
        "now",
        "policies",
        "queue",
        "secrets_before",
        "spec",
        "state",
    )

    def __init__(
        self,
        state: RunState,
        spec: WorkflowSpec,
        now: float,
        policies: Mapping[str, TaskPolicy] | None,
        limits: Limits | None = None,
        info: SpecInfo | None = None,
    ) -> None:
        self.state = state
        self.spec = spec
        self.now = now
        self.policies: Mapping[str, TaskPolicy] = policies or {}
        self.limits = limits or DEFAULT_LIMITS
        self.info: SpecInfo = info if info is not None else derive_spec_info(spec)
        self.secrets_before: list[Any] = self.info.secret_values(state)
        """Secret values as the step found them (a step may overwrite them)."""
        self.effects: list[Effect] = []
        self.journal: list[JournalEntry] = []
        self.budget = STEP_BUDGET
        self.queue: deque[tuple[int, str]] = deque()
        """(thread number, node id) moves still to make in this step."""
        self._children: dict[int, list[int]] | None = None
        """Parent number -> child numbers, built on first use, dropped when a thread is added."""

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

    def add_thread(self, thread: ThreadRun) -> None:
        """Add a new thread run to the state."""
        self.state.threads[thread.number] = thread
        self._children = None

    def ordered(self) -> Iterator[ThreadRun]:
        """Every thread run, by number (creation order), fetched to be
        changed (see :mod:`.copies`); threads added meanwhile are not
        visited. Numbers are handed out in increasing order and dicts (and
        their JSON) keep insertion order, so the dict's order is by number."""
        threads = self.state.threads
        for number in list(threads):
            yield threads[number]

    def scan(self) -> Iterator[ThreadRun]:
        """Like :meth:`ordered`, each thread run as it is now but not fetched:
        only for reading. Fetch one (``state.threads[n]``) to change it."""
        threads = self.state.threads
        for number in list(threads):
            yield dict.__getitem__(threads, number)

    def peek(self, number: int) -> ThreadRun:
        """Thread run ``number`` as it is now, not fetched: only for reading."""
        return dict.__getitem__(self.state.threads, number)

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

    def frozen(self, thread: ThreadRun) -> bool:
        """True while the run is halted or an interrupt above (or of) the
        thread is handled and the thread is not part of the handler (see
        :mod:`.interrupts`). A fact of the state alone, so every layer may ask."""
        if self.state.status is RunStatus.HALTED:
            return True
        below: ThreadRun | None = None
        current: ThreadRun | None = thread
        while current is not None:
            interrupt = current.interrupt
            if interrupt is not None and current.status.active and (below is None or interrupt.handler != below.number):
                return True
            below = current
            current = self.peek(current.parent) if current.parent is not None else None
        return False

    def waiting(self, match: Callable[[Wait], bool]) -> ThreadRun | None:
        """The first running, unfrozen thread whose wait matches (fetched)."""
        for thread in self.state.threads.values():  # read only, and left at the first match
            if (
                thread.status is ThreadStatus.RUNNING
                and thread.wait is not None
                and not thread.suspended
                and match(thread.wait)
                and not self.frozen(thread)
            ):
                return self.state.threads[thread.number]
        return None

    def ended(self, thread: ThreadRun, status: ThreadStatus) -> None:
        """Mark a thread ended with ``status``."""
        thread.status = status
        thread.ended_at = self.now
        self.state.ended_threads += 1
        thread.ended_seq = self.state.ended_threads
        thread.suspended = False


class Scope:
    """Variables and outputs as seen from one thread (for expressions)."""

    __slots__ = ("_step", "_thread")

    def __init__(self, step: Step, thread: ThreadRun) -> None:
        self._step = step
        self._thread = thread

    def variable(self, name: str) -> Any:
        """Value of the nearest visible variable ``name``."""
        owner = self._step.owner(self._thread, name)
        if owner is None:
            raise ExpressionError(f"variable {name!r} is not visible in thread {self._thread.name!r}")
        return owner.variables[name]

    def output(self, node: str) -> Any:
        """Latest output of ``node`` in this thread."""
        if node not in self._thread.outputs:
            raise ExpressionError(f"node {node!r} has not produced an output yet in thread {self._thread.name!r}")
        return self._thread.outputs[node]


def expression_failure(thread: ThreadRun, node_id: str, exc: ExpressionError) -> Failure:
    """An ``EXPRESSION_ERROR`` failure of a node."""
    return Failure(name="EXPRESSION_ERROR", message=exc.reason, node=node_id, thread=thread.name)


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
