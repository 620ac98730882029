"""The operations on all runs at once: the journal feed for polling
consumers (``GET /journal``, what ``wfc runs watch`` tails), the purge of
finished runs (``POST /retention/purge``, ``wfc runs purge``) and their
archive (``GET /retention/export``, ``wfc runs export``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from starlette.responses import StreamingResponse

from wfc.server._http import Call, invalid, read_moment
from wfc.server._types import Body, PageSize, Status


class FeedQuery(Body):
    """Where to read the feed of all runs' journals from."""

    after: str | None = None
    """``next_after`` of the previous answer; none: from the first entry stored."""
    limit: PageSize = 100
    kind: list[str] = msgspec.field(default_factory=list)
    """Only entries of these kinds (repeat the parameter), e.g. ``COMPENSATION_FAILED``."""


class FeedEntryView(msgspec.Struct, kw_only=True):
    """One transition of any run; masked values read ``"***"``."""

    run_id: str
    workflow: str
    seq: int
    """1, 2, 3, ... per run: ``(run_id, seq)`` names the entry (handle it idempotently)."""
    timestamp: dt.datetime
    thread: int
    node: str | None
    kind: str
    attempt: int | None
    detail: dict[str, Any]


class Feed(msgspec.Struct, kw_only=True):
    """Entries of all runs in commit order (each run's in ``seq`` order)."""

    entries: list[FeedEntryView]
    next_after: str
    """Give it as ``after`` next time; when ``entries`` is empty, ask again after a pause."""


class PurgeRequest(Body):
    """Which finished runs to delete."""

    finished_before: str
    """Runs that finished before this moment: ISO 8601 (UTC without an offset) or a duration before now, ``30d``."""
    status: list[Status] = msgspec.field(default_factory=list)
    """Only finished runs with these statuses (COMPLETED, FAILED, COMPENSATED, CANCELLED); none: all four."""
    dry_run: bool = False
    """Only count them."""
    batch: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    """Runs deleted per transaction."""


class PurgeOutcome(msgspec.Struct, kw_only=True):
    """What a purge did."""

    runs: int
    """Runs deleted (with ``dry_run``: that would be)."""
    dry_run: bool


class ExportQuery(Body):
    """Which finished runs to archive."""

    finished_before: str | None = None
    """Runs that finished before this moment: ISO 8601 (UTC without an offset) or a duration before now,
    ``30d``; none: every finished run."""
    status: list[Status] = msgspec.field(default_factory=list)
    """Only finished runs with these statuses (COMPLETED, FAILED, COMPENSATED, CANCELLED); none: all four."""


class ExportLine(msgspec.Struct, kw_only=True):
    """One line of the archive (``application/x-ndjson``): a finished run and its journal, as
    ``wfc runs export`` writes them; masked values read ``"***"``."""

    run: dict[str, Any]
    """The run, as ``wfc runs show --json`` prints it."""
    journal: list[dict[str, Any]]
    """Its journal entries, as ``wfc runs history --json`` prints them."""


NDJSON = "application/x-ndjson"


async def journal_feed(call: Call[FeedQuery, None]) -> Feed:
    """All runs' journal entries after ``after``."""
    from wfc.runtime import UsageError

    query = call.query
    kinds = journal_kinds(query.kind)  # checked first: what the engine refuses next is the position
    try:
        entries, after = await call.engine.read_feed(query.after, query.limit, kinds=kinds)
    except UsageError as exc:
        raise invalid("query parameter", "after", str(exc)) from None
    views = [
        FeedEntryView(
            run_id=e.run_id,
            workflow=e.workflow,
            seq=e.seq,
            timestamp=e.timestamp.astimezone(dt.UTC),
            thread=e.thread,
            node=e.node,
            kind=e.kind,
            attempt=e.attempt,
            detail=e.detail,
        )
        for e in entries
    ]
    return Feed(entries=views, next_after=after)


def journal_kinds(kinds: list[str]) -> tuple[str, ...]:
    """The ``kind`` parameter of a journal read (of one run or of all), each
    a kind the engine writes, as the engine checks it."""
    from wfc.runtime import UsageError
    from wfc.runtime._subscribe import check_kinds

    try:
        return check_kinds(kinds)
    except UsageError as exc:
        raise invalid("query parameter", "kind", str(exc)) from None


async def purge(call: Call[None, PurgeRequest]) -> PurgeOutcome:
    """Delete (or count) finished runs, as ``wfc runs purge`` does."""
    body = call.body
    before = read_moment(body.finished_before, "finished_before", "field")
    statuses = [s.value for s in body.status] or None
    count = await call.engine.purge_runs(before, statuses, batch=body.batch, dry_run=body.dry_run)
    return PurgeOutcome(runs=count, dry_run=body.dry_run)


async def export(call: Call[ExportQuery, None]) -> StreamingResponse:
    """Stream the archive of finished runs, one JSON line per run, as ``wfc
    runs export`` writes it (the same code). Runs are read one at a time
    while the response is sent, so memory does not grow with their number.
    The first line is read before the response starts, so a bad filter is a
    problem response, not a broken stream."""
    from wfc.cli.json_docs import export_lines

    query = call.query
    given = query.finished_before
    before = None if given is None else read_moment(given, "finished_before", "query parameter")
    lines = export_lines(call.engine, before, [s.value for s in query.status] or None)
    try:
        first: str | None = await anext(lines)
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        if first is None:
            return
        yield first.encode()
        async for line in lines:
            yield line.encode()

    return StreamingResponse(body(), media_type=NDJSON)
