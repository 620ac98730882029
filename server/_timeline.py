"""A run's timeline (Gantt): its task attempts, waits, sleeps, threads and
compensations as bars, made from its journal by the same pure span builder
as the OpenTelemetry traces (:mod:`wfc.runtime._spans`), so the dashboard
and a tracing backend show one run the same way."""

from __future__ import annotations

import time

import msgspec

from wfc.runtime import Engine, HistoryEntry
from wfc.runtime._spans import Entry, RunSpans, SpanRecord
from wfc.runtime._trace_context import TraceContext

#: Any trace will do: the bars need the spans' shape and parents, not their trace.
_LOCAL = TraceContext(trace_id=1, parent_span_id=None, sampled=True)


class Bar(msgspec.Struct, kw_only=True):
    """One span of the run: what, when, and how it ended."""

    id: str
    parent: str | None
    kind: str
    """``run``, ``thread``, ``task``, ``wait``, ``sleep``, ``event``,
    ``compensation``, ``compensate`` or ``retry``."""
    label: str
    start: float
    """Seconds since the run started."""
    end: float
    open: bool
    """Still running or waiting: ``end`` is now."""
    thread: int | None
    node: str | None
    attempt: int | None
    outcome: str | None
    """``ok``, ``error``, ``exception``, ``timeout``, ``consumed``, ... as in the spans."""
    error: str | None


class Timeline(msgspec.Struct, kw_only=True):
    run_id: str
    started_at: float
    """Epoch seconds of the run's start: the bars' zero."""
    duration: float
    bars: list[Bar]


async def all_history(engine: Engine, run_id: str) -> list[HistoryEntry]:
    """Every journal entry of the run, read a page at a time."""
    entries: list[HistoryEntry] = []
    while page := await engine.history(run_id, entries[-1].seq if entries else 0, 5000):
        entries.extend(page)
    return entries


def timeline(run_id: str, workflow: str, entries: list[HistoryEntry], now: float) -> Timeline:
    spans = RunSpans(run_id, workflow, _LOCAL)
    finished: list[SpanRecord] = []
    for e in entries:
        entry = Entry(e.seq, e.timestamp.timestamp(), e.thread, e.node, e.kind, e.attempt,
                      e.detail if isinstance(e.detail, dict) else {})  # fmt: skip
        finished += spans.feed(entry)
    records = finished + spans.open_spans(now)
    zero = min((r.start for r in records), default=now)
    records.sort(key=lambda r: (r.start, r.parent_id is not None, r.span_id))  # a parent before its children
    bars = [_bar(record, zero) for record in records]
    return Timeline(run_id=run_id, started_at=zero, duration=max((b.end for b in bars), default=0.0), bars=bars)


def _bar(record: SpanRecord, zero: float) -> Bar:
    attributes = record.attributes
    kind, _, label = record.name.partition(" ")
    thread = attributes.get("wfc.thread")
    attempt = attributes.get("wfc.attempt")
    outcome = attributes.get("wfc.outcome", attributes.get("wfc.status"))
    return Bar(
        id=f"{record.span_id:016x}",
        parent=None if record.parent_id is None else f"{record.parent_id:016x}",
        kind=kind,
        label=label or kind,
        start=round(record.start - zero, 6),
        end=round(record.end - zero, 6),
        open=bool(attributes.get("wfc.open", False)),
        thread=thread if isinstance(thread, int) else None,
        node=str(attributes["wfc.node"]) if attributes.get("wfc.node") else None,
        attempt=attempt if isinstance(attempt, int) else None,
        outcome=None if outcome is None else str(outcome),
        error=record.error,
    )


async def run_timeline(engine: Engine, run_id: str) -> Timeline:
    info = await engine.get_run(run_id)
    return timeline(run_id, info.workflow, await all_history(engine, run_id), time.time())
