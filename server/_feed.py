"""The operations on all runs at once: the journal feed for polling
consumers (``GET /journal``, what ``wfc runs watch`` tails) and the purge of
finished runs (``POST /retention/purge``, ``wfc runs purge``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from wfc.server._http import Call
from wfc.server._problems import ProblemError
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


async def journal_feed(call: Call[FeedQuery, None]) -> Feed:
    """All runs' journal entries after ``after``."""
    from wfc.runtime import UsageError

    query = call.query
    try:
        entries, after = await call.engine.read_feed(query.after, query.limit, kinds=query.kind)
    except UsageError as exc:
        raise ProblemError(422, "invalid-request", f"invalid query parameter 'after': {exc}") from None
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


async def purge(call: Call[None, PurgeRequest]) -> PurgeOutcome:
    """Delete (or count) finished runs, as ``wfc runs purge`` does."""
    import typer

    from wfc.cli.runs_cmd import parse_moment

    body = call.body
    try:
        before = parse_moment(body.finished_before, "finished_before")
    except typer.BadParameter as exc:
        raise ProblemError(422, "invalid-request", f"invalid field 'finished_before': {exc.message}") from None
    statuses = [s.value for s in body.status] or None
    count = await call.engine.purge_runs(before, statuses, batch=body.batch, dry_run=body.dry_run)
    return PurgeOutcome(runs=count, dry_run=body.dry_run)
