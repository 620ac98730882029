"""Spans from a run's committed journal: the pure half of tracing.

A span starts at one journal entry and ends at another (a task attempt at
``TASK_DISPATCHED`` and ``TASK_COMPLETED``/``TASK_FAILED`` of the same thread,
node and attempt; a sleep at ``SLEEPING`` and ``TIMER_FIRED``; ...), and is
made whole when its end entry is read. Every span id is derived from the
run's trace id, the run id and the ``seq`` of the span's start entry, all of
them durable: a process that reads the same journal again (after a crash)
makes the very same spans, byte for byte, so a span exported twice is the
same span twice, never two spans for one attempt.

No OpenTelemetry here (see :mod:`wfc.runtime.tracing`, which turns these
records into OpenTelemetry spans), no I/O, no clock: a run's spans are a
function of its journal, tested without a database.

The tree: the run's span (``run <workflow>``) is the root (or hangs under
the caller's span given at start); under it each child thread's span
(``thread <name>``), under a thread's span the spans of its task attempts
(``task <name>``), event waits (``wait <event>``, linked to the span of
the event it consumed), sleeps and waits for threads; a received event is
an instant span (``event <name>``); a compensation has one span
(``compensation``) with a span per compensation attempt under it. A user
task is a span (``user_task <form>``) from its assignment to its completion
or cancellation, what people did meanwhile (claimed, released, reassigned,
reminded) its events, and each reminder attempt a span under it
(``reminder <task>``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from wfc.runtime._trace_context import TraceContext

#: What an attribute value may be (OpenTelemetry's primitive types).
AttributeValue = str | int | float | bool
_TERMINAL: Final = frozenset({"RUN_COMPLETED", "RUN_FAILED", "RUN_COMPENSATED", "RUN_CANCELLED"})
_THREAD_ENDS: Final = frozenset({"THREAD_COMPLETED", "THREAD_FAILED", "THREAD_HALTED"})
_WAIT_ENDS: Final = {
    "TIMER_FIRED": "sleep",
    "EVENT_CONSUMED": "wait",
    "EVENT_TIMEOUT": "wait",
    "THREADS_COMPLETED": "threads",
    "THREADS_FAILED": "threads",
    "THREADS_TIMEOUT": "threads",
}
#: Families of spans a thread waits in, abandoned if it ends meanwhile.
_WAITS: Final = frozenset({"wait", "sleep", "threads", "user_task", "reminder"})

#: Entries that change an open user task without ending it: events of its span.
_USER_TASK_EVENTS: Final = ("USER_TASK_CLAIMED", "USER_TASK_RELEASED", "USER_TASK_REASSIGNED", "USER_TASK_REMINDED")


#: The kinds of journal entries spans are made from; the others change nothing.
KINDS: Final = frozenset(
    {
        "RUN_STARTED", "RUN_RETRIED", "RUN_HALTED", "RUN_RESUMED", "RUN_CANCEL_REQUESTED", "THREAD_STARTED",
        "TASK_DISPATCHED", "COMPENSATION_DISPATCHED", "TASK_COMPLETED", "TASK_FAILED", "COMPENSATION_COMPLETED",
        "COMPENSATION_FAILED", "TASK_CLAIMED", "COMPENSATION_STARTED", "COMPENSATION_SKIPPED", "EVENT_RECEIVED",
        "EVENT_WAITING", "SLEEPING", "THREADS_WAITING",
        "USER_TASK_ASSIGNED", "USER_TASK_COMPLETED", "USER_TASK_CANCELLED", *_USER_TASK_EVENTS,
        "USER_TASK_REMINDER_COMPLETED", "USER_TASK_REMINDER_FAILED",
    }
    | _TERMINAL
    | _THREAD_ENDS
    | _WAIT_ENDS.keys()
)  # fmt: skip


@dataclass(frozen=True)
class SpanRecord:
    """One finished span, ready to export."""

    trace: TraceContext
    span_id: int
    parent_id: int | None
    """``None``: the root of the trace (no caller's span either)."""
    name: str
    start: float
    """Epoch seconds, from the journal."""
    end: float
    attributes: dict[str, AttributeValue]
    links: tuple[int, ...] = ()
    """Ids of spans of the same trace this one is linked to."""
    events: tuple[tuple[str, float, dict[str, AttributeValue]], ...] = ()
    error: str | None = None
    """Set when the span's outcome is a failure: its description."""


@dataclass
class _Open:
    span_id: int
    parent_id: int | None
    name: str
    start: float
    attributes: dict[str, AttributeValue]
    events: list[tuple[str, float, dict[str, AttributeValue]]] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """The fields of a journal entry the spans are made from."""

    seq: int
    at: float
    thread: int
    node: str | None
    kind: str
    attempt: int | None
    detail: dict[str, Any]


def span_id(trace: TraceContext, run_id: str, key: str) -> int:
    """The span id of ``key`` in a run: the same in every process."""
    digest = hashlib.blake2b(f"{trace.trace_id:032x}/{run_id}/{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def _outcome(kind: str, detail: dict[str, Any]) -> str:
    """``ok``, ``exception`` (a business failure), ``timeout`` or ``error``,
    as the metrics name the outcomes of task attempts."""
    if kind.endswith("_COMPLETED"):
        return "ok"
    if detail.get("kind") == "exception":
        return "exception"
    return "timeout" if detail.get("error") == "TIMEOUT" else "error"


def _text(value: Any) -> AttributeValue:
    return value if isinstance(value, str | int | float | bool) else str(value)


class RunSpans:
    """The spans of one run, fed its journal entries in ``seq`` order.

    :meth:`feed` returns the spans an entry finished. Feeding entries whose
    spans were exported already (``replay``) rebuilds what is open without
    returning them: how a process picks up a run in the middle."""

    def __init__(self, run_id: str, workflow: str, trace: TraceContext) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.trace = trace
        self.last_seq = 0
        """The last entry fed."""
        self.root = span_id(trace, run_id, "run")
        self._threads: dict[int, int] = {0: self.root}
        self._open: dict[tuple[Any, ...], _Open] = {}
        self._out: list[SpanRecord] = []
        self._ended = False
        self._compensation: int | None = None
        """The span of the run's last compensation, once one started."""

    @property
    def finished(self) -> bool:
        """True when the run ended and has no span left open (a retry would
        open new ones; the journal says so)."""
        return self._ended and not self._open

    def feed(self, entry: Entry, *, replay: bool = False) -> list[SpanRecord]:
        """Take the next entry of the run; the spans it finished."""
        self.last_seq = entry.seq
        self._out = []
        self._take(entry)
        out, self._out = self._out, []
        return [] if replay or not self.trace.sampled else out

    def open_spans(self, now: float) -> list[SpanRecord]:
        """The spans started and not ended yet, as if they ended at ``now``
        (``wfc.open`` set): a timeline's bars still running or waiting."""
        return [
            SpanRecord(
                trace=self.trace,
                span_id=span.span_id,
                parent_id=span.parent_id,
                name=span.name,
                start=span.start,
                end=max(now, span.start),
                attributes={**span.attributes, "wfc.open": True},
                events=tuple(span.events),
            )
            for span in self._open.values()
        ]

    # ------------------------------------------------------------------ spans

    def _sid(self, seq: int) -> int:
        return span_id(self.trace, self.run_id, str(seq))

    def _begin(self, key: tuple[Any, ...], sid: int, parent: int | None, name: str, entry: Entry,
               attributes: dict[str, AttributeValue]) -> None:  # fmt: skip
        if key in self._open:  # a start without its end (never in a sound journal): keep the span
            self._finish(key, entry, {"wfc.outcome": "abandoned"})
        base: dict[str, AttributeValue] = {
            "wfc.run_id": self.run_id,
            "wfc.workflow": self.workflow,
            "wfc.seq": entry.seq,
        }
        self._open[key] = _Open(sid, parent, name, entry.at, {**base, **attributes})

    def _finish(self, key: tuple[Any, ...], entry: Entry, attributes: dict[str, AttributeValue],
                links: tuple[int, ...] = (), error: str | None = None) -> None:  # fmt: skip
        span = self._open.pop(key, None)
        if span is None:
            return
        self._out.append(
            SpanRecord(
                trace=self.trace,
                span_id=span.span_id,
                parent_id=span.parent_id,
                name=span.name,
                start=span.start,
                end=max(entry.at, span.start),
                attributes={**span.attributes, **attributes},
                links=links,
                events=tuple(span.events),
                error=error,
            )
        )

    def _parent_of(self, thread: int) -> int:
        return self._threads.get(thread, self.root)

    def _take(self, entry: Entry) -> None:
        kind, detail = entry.kind, entry.detail
        if kind == "RUN_STARTED":
            self._begin(("run",), self.root, self.trace.parent_span_id, f"run {self.workflow}", entry,
                        {"wfc.version": _text(detail.get("version", ""))})  # fmt: skip
        elif kind in _TERMINAL:
            self._end_run(entry)
        elif kind == "RUN_RETRIED":
            self._ended = False
            self._begin(("retry",), self._sid(entry.seq), self.root, "retry", entry, {})
        elif kind in ("RUN_HALTED", "RUN_RESUMED", "RUN_CANCEL_REQUESTED"):
            self._event(("run",), entry, kind.lower())
        elif kind == "THREAD_STARTED":
            self._thread_started(entry)
        elif kind in _THREAD_ENDS:
            self._thread_ended(entry)
        elif kind in ("TASK_DISPATCHED", "COMPENSATION_DISPATCHED"):
            self._attempt_started(entry)
        elif kind in ("TASK_COMPLETED", "TASK_FAILED", "COMPENSATION_COMPLETED", "COMPENSATION_FAILED"):
            self._attempt_ended(entry)
        elif kind == "TASK_CLAIMED":
            self._event(("task", entry.thread, entry.node), entry, "redelivered")
        elif kind == "COMPENSATION_STARTED":
            attributes = {"wfc.cause": _text(detail.get("cause") or ""), "wfc.error": _text(detail.get("error") or "")}
            self._compensation = self._sid(entry.seq)
            self._begin(("compensation",), self._compensation, self.root, "compensation", entry, attributes)
        elif kind == "COMPENSATION_SKIPPED":
            self._instant(entry, f"compensate {detail.get('task')}", self._compensation_parent(),
                          {"wfc.node": entry.node or "", "wfc.outcome": "skipped"})  # fmt: skip
        elif kind == "EVENT_RECEIVED":
            sid = span_id(self.trace, self.run_id, f"event/{detail.get('event_id')}")
            attributes = {"wfc.event": _text(detail.get("event")), "wfc.event_id": _text(detail.get("event_id"))}
            self._instant(entry, f"event {detail.get('event')}", self.root, attributes, sid=sid)
        elif kind in ("EVENT_WAITING", "SLEEPING", "THREADS_WAITING"):
            self._wait_started(entry)
        elif kind in _WAIT_ENDS:
            self._wait_ended(entry)
        elif kind.startswith("USER_TASK_"):
            self._user_task(entry)

    def _end_run(self, entry: Entry) -> None:
        status = entry.kind.removeprefix("RUN_")
        failed = status == "FAILED"
        error = f"{entry.detail.get('error')}: {entry.detail.get('message')}" if failed else None
        ending = ("run",) if ("run",) in self._open else ("retry",)
        for key in [k for k in self._open if k[0] not in ("run", "retry", "compensation")]:
            self._finish(key, entry, {"wfc.outcome": "abandoned"})
        self._finish(("compensation",), entry, {"wfc.outcome": status.lower()}, error=error)
        self._finish(ending, entry, {"wfc.status": status}, error=error)
        self._ended = True

    def _event(self, key: tuple[Any, ...], entry: Entry, name: str) -> None:
        span = self._open.get(key)
        if span is not None:
            span.events.append((name, entry.at, {"wfc.seq": entry.seq}))

    def _instant(self, entry: Entry, name: str, parent: int, attributes: dict[str, AttributeValue],
                 sid: int | None = None) -> None:  # fmt: skip
        key = ("instant", entry.seq)
        self._begin(key, self._sid(entry.seq) if sid is None else sid, parent, name, entry, attributes)
        self._finish(key, entry, {})

    def _thread_started(self, entry: Entry) -> None:
        detail = entry.detail
        sid = self._sid(entry.seq)
        self._threads[entry.thread] = sid
        attributes: dict[str, AttributeValue] = {
            "wfc.thread": entry.thread,
            "wfc.thread.name": _text(detail.get("name", "")),
            "wfc.thread.kind": _text(detail.get("kind", "")),
        }
        parent = self._parent_of(int(detail.get("parent") or 0))
        self._begin(("thread", entry.thread), sid, parent, f"thread {detail.get('name')}", entry, attributes)

    def _thread_ended(self, entry: Entry) -> None:
        # A task attempt may still end (a compensation awaits it); the run's end closes it if not.
        for key in [k for k in self._open if k[0] in _WAITS and k[1] == entry.thread]:
            self._finish(key, entry, {"wfc.outcome": "abandoned"})
        status = entry.kind.removeprefix("THREAD_").lower()
        attributes: dict[str, AttributeValue] = {"wfc.outcome": status}
        if entry.detail.get("reason"):
            attributes["wfc.reason"] = _text(entry.detail["reason"])
        error = f"{entry.detail.get('error')}: {entry.detail.get('message')}" if status == "failed" else None
        self._finish(("thread", entry.thread), entry, attributes, error=error)

    def _compensation_parent(self) -> int:
        # A retried compensation goes on under the span of the compensation it continues.
        return self._compensation or self.root

    def _attempt_key(self, entry: Entry) -> tuple[Any, ...]:
        if entry.kind.startswith("COMPENSATION_"):
            return ("compensate", entry.node)
        return ("task", entry.thread, entry.node)

    def _attempt_started(self, entry: Entry) -> None:
        detail = entry.detail
        compensating = entry.kind == "COMPENSATION_DISPATCHED"
        attributes: dict[str, AttributeValue] = {
            "wfc.thread": entry.thread,
            "wfc.node": entry.node or "",
            "wfc.task": _text(detail.get("task", "")),
            "wfc.attempt": entry.attempt or 1,
            "wfc.idempotency_key": _text(detail.get("idempotency_key", "")),
        }
        parent = self._compensation_parent() if compensating else self._parent_of(entry.thread)
        name = f"{'compensate' if compensating else 'task'} {detail.get('task')}"
        self._begin(self._attempt_key(entry), self._sid(entry.seq), parent, name, entry, attributes)

    def _attempt_ended(self, entry: Entry) -> None:
        outcome = _outcome(entry.kind, entry.detail)
        attributes: dict[str, AttributeValue] = {"wfc.outcome": outcome}
        error = None
        if outcome != "ok":
            attributes["wfc.error"] = _text(entry.detail.get("error", ""))
            error = f"{entry.detail.get('error')}: {entry.detail.get('message', '')}"
            if "next_attempt" in entry.detail:
                attributes["wfc.retry_in"] = _text(entry.detail.get("retry_in", 0.0))
        self._finish(self._attempt_key(entry), entry, attributes, error=error)

    def _wait_started(self, entry: Entry) -> None:
        detail = entry.detail
        attributes: dict[str, AttributeValue] = {"wfc.thread": entry.thread, "wfc.node": entry.node or ""}
        if entry.kind == "EVENT_WAITING":
            family, name = "wait", f"wait {detail.get('event')}"
            attributes["wfc.event"] = _text(detail.get("event", ""))
        elif entry.kind == "SLEEPING":
            family, name = "sleep", "sleep"
            attributes["wfc.until"] = _text(detail.get("until", 0.0))
        else:
            family, name = "threads", "wait threads"
            attributes["wfc.strategy"] = _text(detail.get("strategy", ""))
        self._begin((family, entry.thread, entry.node), self._sid(entry.seq), self._parent_of(entry.thread), name,
                    entry, attributes)  # fmt: skip

    def _wait_ended(self, entry: Entry) -> None:
        family = _WAIT_ENDS[entry.kind]
        key = (family, entry.thread, entry.node)
        links: tuple[int, ...] = ()
        if entry.kind == "EVENT_CONSUMED":
            links = (span_id(self.trace, self.run_id, f"event/{entry.detail.get('event_id')}"),)
            if key not in self._open:  # the event was there before the wait: an instant wait
                self._wait_started(Entry(entry.seq, entry.at, entry.thread, entry.node, "EVENT_WAITING", None,
                                         {"event": entry.detail.get("event")}))  # fmt: skip
        outcome = entry.kind.rsplit("_", 1)[1].lower()
        error = "timed out" if outcome == "timeout" else ("a child thread failed" if outcome == "failed" else None)
        self._finish(key, entry, {"wfc.outcome": "ok" if outcome in ("fired", "consumed", "completed") else outcome},
                     links=links, error=error)  # fmt: skip

    def _user_task(self, entry: Entry) -> None:
        detail = entry.detail
        task_id = _text(detail.get("user_task", ""))
        key = ("user_task", entry.thread, task_id)
        kind = entry.kind
        if kind == "USER_TASK_ASSIGNED":
            attributes: dict[str, AttributeValue] = {
                "wfc.thread": entry.thread,
                "wfc.node": entry.node or "",
                "wfc.user_task": task_id,
                "wfc.form": _text(detail.get("form", "")),
            }
            for role in ("user", "group"):
                if detail.get(role):
                    attributes[f"wfc.{role}"] = _text(detail[role])
            self._begin(key, self._sid(entry.seq), self._parent_of(entry.thread), f"user_task {detail.get('form')}",
                        entry, attributes)  # fmt: skip
        elif kind in _USER_TASK_EVENTS:
            self._event(key, entry, kind.removeprefix("USER_TASK_").lower())
            if kind == "USER_TASK_REMINDED":
                self._reminder_started(entry, key)
        elif kind in ("USER_TASK_REMINDER_COMPLETED", "USER_TASK_REMINDER_FAILED"):
            self._reminder_ended(entry, task_id)
        elif kind == "USER_TASK_COMPLETED":
            by = {"wfc.by": _text(detail["by"])} if detail.get("by") else {}
            self._finish(key, entry, {"wfc.outcome": "ok", **by})
        elif kind == "USER_TASK_CANCELLED":
            reason = _text(detail.get("reason") or "cancelled")
            self._finish(key, entry, {"wfc.outcome": "cancelled", "wfc.reason": reason},
                         error=f"USER_TASK_CANCELLED: {reason}")  # fmt: skip

    def _reminder_started(self, entry: Entry, task_key: tuple[Any, ...]) -> None:
        task = entry.detail.get("task")
        span = self._open.get(task_key)
        attributes: dict[str, AttributeValue] = {
            "wfc.thread": entry.thread,
            "wfc.node": entry.node or "",
            "wfc.task": _text(task or ""),
            "wfc.attempt": entry.attempt or 1,
        }
        parent = span.span_id if span is not None else self._parent_of(entry.thread)
        key = ("reminder", entry.thread, _text(entry.detail.get("user_task", "")), task)
        self._begin(key, self._sid(entry.seq), parent, f"reminder {task}", entry, attributes)

    def _reminder_ended(self, entry: Entry, task_id: AttributeValue) -> None:
        failed = entry.kind == "USER_TASK_REMINDER_FAILED"
        attributes: dict[str, AttributeValue] = {"wfc.outcome": "error" if failed else "ok"}
        error = f"{entry.detail.get('error')}: {entry.detail.get('message', '')}" if failed else None
        self._finish(("reminder", entry.thread, task_id, entry.detail.get("task")), entry, attributes, error=error)
