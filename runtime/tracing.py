"""OpenTelemetry traces of every run, made from the committed journal.

``Engine.open(url, tasks, tracing=Tracing(exporter))`` (needs ``pip install
'wfc[otel]'``) exports one trace per run: the run's span, a span per task
attempt (attempt number, idempotency key, outcome), per event wait (linked to
the span of the event it consumed), sleep, wait for threads, child thread,
and the compensation's span with a span per compensation attempt under it
(see :mod:`wfc.runtime._spans` for the whole tree).

How spans leave: a reader follows the journal feed (the one
:meth:`~wfc.runtime.Engine.subscribe` reads), woken by every commit of the
engine, builds each span when its end entry is committed and hands the spans
to the exporter, then moves its position, saved in the database under the
tracing ``name`` at most every ``save_interval`` seconds. Span ids are
derived from the run's stored trace id and the journal, so after a crash the
restarted engine reads again from the saved position and exports the very
same spans: delivery is **at least once**, and a span delivered twice is the
same span (same trace id, span id, parent, times, attributes) twice, never
a second span for one attempt. A wait's span is exported when the wait ends.

One process per database exports at a time: the exporters under one ``name``
hold a lease in the database (a row of the ``subscribers`` table), renewed
while they run; another takes over once it lapses (``lease_seconds`` after
a crash).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
import msgspec

from wfc.runtime._spans import KINDS, Entry, RunSpans, SpanRecord
from wfc.runtime._trace_context import stored_trace
from wfc.runtime.errors import UsageError
from wfc.runtime.store import JournalFilter, JournalRecord, Store, feed
from wfc.runtime.store.base import process_alive
from wfc.runtime.store.traces import trace_contexts

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("wfc.tracing")

__all__ = ["Tracing"]

_INSTALL: Final = "pip install 'wfc[otel]'"
#: Runs whose open spans are kept in memory; the least recently changed
#: beyond this are dropped and rebuilt from their journal when they move again.
_MOST_RUNS: Final = 10_000
_SCOPE: Final = "wfc"
#: The journal kinds read (the others make no span), sorted for a stable statement.
_KINDS: Final = tuple(sorted(KINDS))
#: Most seconds a closing engine gives the exporter to export what was committed.
_CLOSE_WAIT: Final = 10.0


def _require_sdk() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"tracing needs the OpenTelemetry SDK ({exc.name} is not installed): {_INSTALL}") from None


class Tracing:
    """Where and how an engine exports the spans of runs.

    Args:
        exporter: An OpenTelemetry ``SpanExporter`` (``OTLPSpanExporter``,
            ``ConsoleSpanExporter``, ``InMemorySpanExporter``, ...). It is
            called from a worker thread with each batch of finished spans;
            a batch it refuses is offered again (nothing moves on before).
            The engine does not shut it down.
        service_name: The ``service.name`` of the spans' resource.
        resource: The spans' resource (instead of ``service_name``).
        name: Under which name the position in the journal is saved; engines
            exporting to different back ends need different names.
        start: Where an exporter with no saved position starts:
            ``"latest"`` (what is committed from now on; runs in progress
            get their spans from their next step) or ``"earliest"`` (every
            run stored).
        batch: Most journal entries read at once.
        poll_interval: Seconds between looks for entries committed by other
            processes (this engine's own commits wake it at once).
        save_interval: Most seconds between two saves of the position: what
            a crash may export again.
        lease_seconds: How long another process waits to take over export
            after this one stopped renewing its lease (a crash).

    Raises:
        UsageError: OpenTelemetry is not installed (``pip install
            'wfc[otel]'``), or a bad argument.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        service_name: str = "wfc",
        resource: Resource | None = None,
        name: str = "wfc.otel",
        start: Literal["earliest", "latest"] = "latest",
        batch: int = 500,
        poll_interval: float = 0.5,
        save_interval: float = 1.0,
        lease_seconds: float = 15.0,
    ) -> None:
        _require_sdk()
        if not callable(getattr(exporter, "export", None)):
            raise UsageError(
                f"Tracing(exporter=...) takes an OpenTelemetry SpanExporter, got {type(exporter).__name__}"
            )
        if not isinstance(name, str) or not name or len(name) > 200:
            raise UsageError(f"Tracing(name=...) must be a non-empty string of at most 200 characters, got {name!r}")
        if start not in ("earliest", "latest"):
            raise UsageError(f"Tracing(start=...) must be 'earliest' or 'latest', got {start!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
            raise UsageError(f"Tracing(batch=...) must be an int from 1 to 10000, got {batch!r}")
        for label, value in (
            ("poll_interval", poll_interval),
            ("save_interval", save_interval),
            ("lease_seconds", lease_seconds),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise UsageError(f"Tracing({label}=...) must be a number of seconds > 0, got {value!r}")
        from opentelemetry.sdk.resources import Resource

        self.exporter = exporter
        self.resource = resource if resource is not None else Resource.create({"service.name": service_name})
        self.name = name
        self.start = start
        self.batch = batch
        self.poll_interval = float(poll_interval)
        self.save_interval = float(save_interval)
        self.lease_seconds = float(lease_seconds)

    @classmethod
    def from_environment(cls, **options: Any) -> Tracing:
        """Export with OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
        ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, to the console
        otherwise, as JSON on stderr (what ``--otel`` of the CLI does). The OTLP exporter reads
        the standard ``OTEL_EXPORTER_OTLP_*`` variables itself.

        Raises:
            UsageError: an OTLP endpoint is set but no OTLP exporter package
                is installed (it names the package), or OpenTelemetry is not.
        """
        _require_sdk()
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        exporter: Any
        if endpoint:
            exporter = _otlp_exporter(endpoint)
        else:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporter = ConsoleSpanExporter(out=sys.stderr)  # stdout is the program's own
        if "service_name" not in options and os.environ.get("OTEL_SERVICE_NAME"):
            options["service_name"] = os.environ["OTEL_SERVICE_NAME"]
        return cls(exporter, **options)


def _otlp_exporter(endpoint: str) -> Any:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    grpc = protocol == "grpc"
    package = "opentelemetry-exporter-otlp-proto-" + ("grpc" if grpc else "http")
    try:
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
    except ImportError:
        raise UsageError(
            f"OTEL_EXPORTER_OTLP_ENDPOINT is set ({endpoint}) but the OTLP exporter is not installed: "
            f"pip install {package} (or unset it to print spans to the console)"
        ) from None
    return OTLPSpanExporter()


class _SpanFactory:
    """OpenTelemetry spans, with the ids wfc derived, from span records.

    They are the SDK's :class:`ReadableSpan`, what every ``SpanExporter``
    takes, built directly: they record what the journal says happened, like
    any converter of recorded traces. The SDK's supported way to choose ids,
    an ``IdGenerator`` under a tracer, made the same spans at about 14 times
    the cost (100 µs against 7.5 µs a span, measured), a quarter of the
    engine's throughput; the tests check the spans through the in-memory,
    console and a JSON exporter."""

    def __init__(self, resource: Resource) -> None:
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self._resource = resource
        self._scope = InstrumentationScope(_SCOPE)

    def make(self, records: Iterable[SpanRecord]) -> list[ReadableSpan]:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

        sampled = TraceFlags(TraceFlags.SAMPLED)
        unset, made = Status(StatusCode.UNSET), []
        for record in records:
            trace_id = record.trace.trace_id
            parent = None
            if record.parent_id is not None:
                remote = record.parent_id == record.trace.parent_span_id
                parent = SpanContext(trace_id, record.parent_id, is_remote=remote, trace_flags=sampled)
            made.append(
                ReadableSpan(
                    name=record.name,
                    context=SpanContext(trace_id, record.span_id, is_remote=False, trace_flags=sampled),
                    parent=parent,
                    resource=self._resource,
                    attributes=record.attributes,
                    events=[Event(name, attributes, _ns(at)) for name, at, attributes in record.events],
                    links=[
                        Link(SpanContext(trace_id, linked, is_remote=False, trace_flags=sampled))
                        for linked in record.links
                    ],
                    kind=SpanKind.INTERNAL,
                    status=unset if record.error is None else Status(StatusCode.ERROR, record.error),
                    start_time=_ns(record.start),
                    end_time=_ns(record.end),
                    instrumentation_scope=self._scope,
                )
            )
        return made


def _ns(epoch: float) -> int:
    return round(epoch * 1e9)


def _entry(record: JournalRecord) -> Entry:
    return Entry(
        record.seq,
        record.at,
        record.thread,
        record.node,
        record.kind,
        record.attempt,
        msgspec.json.decode(record.detail),
    )


class _Owner:
    """The lease on exporting under a name: a row ``<name>/owner`` of the
    subscribers table whose position is the owner (``host/pid/id``) and whose
    ``updated_at`` is when the lease lapses. Taken when free, lapsed, held by
    a process of this machine that no longer exists (a crash), or ours."""

    _TAKE: Final = (
        "INSERT INTO subscribers (name, position, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at "
        "WHERE subscribers.position = ? RETURNING name"
    )

    def __init__(self, store: Store, name: str, lease: float) -> None:
        self._store = store
        self._row = f"{name}/owner"
        self._host = socket.gethostname()
        self._id = f"{self._host}/{os.getpid()}/{uuid.uuid4().hex}"
        self._lease = lease

    def _free(self, holder: str, lapses: float, now: float) -> bool:
        if holder == self._id or lapses < now:
            return True
        host, _, rest = holder.partition("/")
        pid = rest.partition("/")[0]
        return host == self._host and pid.isdigit() and not process_alive(int(pid))

    async def take(self, now: float) -> bool:
        """Take or renew the lease; true when this exporter holds it."""
        rows = await self._store.dialect.fetch(
            "SELECT position, updated_at FROM subscribers WHERE name = ?", (self._row,)
        )
        seen = str(rows[0]["position"]) if rows else None
        if rows and seen is not None and not self._free(seen, float(rows[0]["updated_at"]), now):
            return False
        async with self._store.transaction() as tx:  # only over the holder just seen
            taken = await tx.connection.fetch(self._TAKE, (self._row, self._id, now + self._lease, seen))
        return bool(taken)

    async def release(self) -> None:
        async with self._store.transaction() as tx:
            await tx.connection.fetch(
                "DELETE FROM subscribers WHERE name = ? AND position = ? RETURNING name", (self._row, self._id)
            )


class _Exporter:
    """Reads the journal feed and exports the spans it finishes."""

    def __init__(self, tracing: Tracing, store: Store, clock: Callable[[], float]) -> None:
        self._tracing = tracing
        self._store = store
        self._clock = clock
        self._factory = _SpanFactory(tracing.resource)
        self._runs: OrderedDict[str, RunSpans] = OrderedDict()
        self._wake = anyio.Event()
        self._owner = _Owner(store, tracing.name, tracing.lease_seconds)
        self._position: str | None = None
        self._saved: str | None = None
        self._saved_at = 0.0
        self._closing = False
        self._closing_at: str | None = None
        self.done = anyio.Event()
        """Set when :meth:`run` returned, after :meth:`finish`."""

    def wake(self) -> None:
        """Something was committed: look at the feed now."""
        self._wake.set()

    def finish(self) -> None:
        """Export what is committed, then stop (see :attr:`done`)."""
        self._closing = True
        self._wake.set()

    async def _read_all_committed(self) -> bool:
        """Closing: true once everything committed before :meth:`finish`
        was read (on PostgreSQL, the feed shows a commit only once every
        transaction older than it ended)."""
        assert self._position is not None
        if self._closing_at is None:
            self._closing_at = await feed.committed_end(self._store)
        return feed.reached(self._store, self._position, self._closing_at)

    async def run(self) -> None:
        """Export until :meth:`finish` (or cancelled); a failing database or
        exporter is tried again."""
        try:
            while True:
                try:
                    await self._serve()
                    return
                except Exception:  # a failing database must not stop the engine; nothing moved past a span
                    if self._closing:
                        raise
                    log.exception("exporting spans failed; trying again")
                    self._runs.clear()  # rebuilt from the journal, as after a restart
                    self._position = None
                    await anyio.sleep(self._tracing.poll_interval)
        finally:
            self.done.set()

    async def _serve(self) -> None:
        tracing = self._tracing
        renew_at = 0.0
        while True:
            now = time.monotonic()
            if now >= renew_at:
                if not await self._owner.take(self._clock()):
                    if self._closing:
                        return
                    self._position = None  # another process exports; read its position when taking over
                    with anyio.move_on_after(tracing.lease_seconds / 3):
                        await self._wait()
                    continue
                renew_at = now + tracing.lease_seconds / 3
            if self._position is None:
                self._position = await self._begin()
            more = await self._step()
            if not more:
                if self._closing and await self._read_all_committed():
                    return
                with anyio.move_on_after(tracing.poll_interval):
                    await self._wait()

    async def _wait(self) -> None:
        if self._closing:
            await anyio.sleep(0.01)  # for older transactions to end
        else:
            await self._wake.wait()
        self._wake = anyio.Event()

    async def _begin(self) -> str:
        saved = await feed.load_position(self._store, self._tracing.name)
        self._saved = saved
        if saved is not None:
            return saved
        return feed.START if self._tracing.start == "earliest" else await feed.head(self._store)

    async def _step(self) -> bool:
        """Read one page, export its spans, move on; true when more may wait."""
        assert self._position is not None
        page = await feed.read(self._store, self._position, self._tracing.batch, _KINDS)
        if page.records:
            spans = await self._spans(page.records)
            if spans:
                await self._export(self._factory.make(spans))
        self._position = page.position
        if self._position != self._saved and time.monotonic() - self._saved_at >= self._tracing.save_interval:
            await self.save()
        return len(page.records) == self._tracing.batch

    async def save(self) -> None:
        """Save the position: everything before it was exported."""
        if self._position is None or self._position == self._saved:
            return
        await feed.save_position(self._store, self._tracing.name, self._position, self._clock())
        self._saved, self._saved_at = self._position, time.monotonic()

    async def close(self) -> None:
        """Save the position and give up the lease (best effort: a crash does neither)."""
        try:
            await self.save()
            await self._owner.release()
        except Exception:
            log.warning("could not save the tracing position on close; spans since may be exported again")

    async def _spans(self, records: Sequence[feed.FeedRecord]) -> list[SpanRecord]:
        await self._prepare(records)
        spans: list[SpanRecord] = []
        for record in records:
            journal = record.journal
            run = self._runs.get(journal.run_id)
            if run is None or journal.seq <= run.last_seq:
                continue  # purged meanwhile, or read again after an error
            spans.extend(run.feed(_entry(journal)))
            if run.finished:
                del self._runs[journal.run_id]
            else:
                self._runs.move_to_end(journal.run_id)
        while len(self._runs) > _MOST_RUNS:
            self._runs.popitem(last=False)
        return spans

    async def _prepare(self, records: Sequence[feed.FeedRecord]) -> None:
        """Have a :class:`RunSpans` for every run of ``records``: a run not
        held gets its stored trace context and replays the journal before
        its first entry here (whose spans went out before the saved position)."""
        first: dict[str, feed.FeedRecord] = {}
        for record in records:
            if record.journal.run_id not in self._runs:
                first.setdefault(record.journal.run_id, record)
        if not first:
            return
        contexts = await trace_contexts(self._store, list(first))
        for run_id, record in first.items():
            run = RunSpans(run_id, record.workflow, stored_trace(contexts.get(run_id), run_id))
            before = record.journal.seq - 1
            if before > 0:
                for journal in await self._store.history(run_id, 0, before, JournalFilter(kinds=_KINDS)):
                    if journal.seq <= before:
                        run.feed(_entry(journal), replay=True)
            self._runs[run_id] = run

    async def _export(self, spans: list[ReadableSpan]) -> None:
        """Hand ``spans`` to the exporter until it takes them."""
        from opentelemetry.sdk.trace.export import SpanExportResult

        delay = self._tracing.poll_interval
        while True:
            try:
                result = await anyio.to_thread.run_sync(self._tracing.exporter.export, spans)
            except Exception:
                log.exception("the span exporter failed; offering %d span(s) again", len(spans))
                result = SpanExportResult.FAILURE
            if result is SpanExportResult.SUCCESS:
                return
            await anyio.sleep(delay)
            delay = min(delay * 2, 30.0)


@asynccontextmanager
async def exporting(
    tracing: Tracing | None, store: Store, clock: Callable[[], float]
) -> AsyncIterator[Callable[[], None] | None]:
    """Export spans in the background while the block runs (nothing when
    ``tracing`` is ``None``); yields what to call after each commit to wake
    the exporter. An error of the block reaches the caller as itself."""
    if tracing is None:
        yield None
        return
    exporter = _Exporter(tracing, store, clock)
    store.subscribe(lambda wakeup: exporter.wake())  # commits of other processes (PostgreSQL)
    body_error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(exporter.run)
        try:
            yield exporter.wake
        except Exception as exc:
            body_error = exc
        finally:
            exporter.finish()
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_WAIT):
                await exporter.done.wait()
            tg.cancel_scope.cancel()
    with anyio.CancelScope(shield=True):
        await exporter.close()
    if body_error is not None:
        raise body_error
