"""The operations of ``/api/v1``: each an :class:`~wfc.server._http.Endpoint`
calling the engine's public API (the same calls the CLI makes), with the
answer in the API's types (:mod:`wfc.server._types`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

import msgspec

from wfc.runtime import RunKey, RunStateError, StoreError, UsageError
from wfc.runtime._inputs import check_run_id
from wfc.runtime._search import parse_where
from wfc.server._feed import (
    NDJSON,
    ExportLine,
    ExportQuery,
    Feed,
    FeedQuery,
    PurgeOutcome,
    PurgeRequest,
    export,
    journal_feed,
    journal_kinds,
    purge,
)
from wfc.server._http import Call, Endpoint, Reply, Source, invalid, read_moment
from wfc.server._layout import LayoutQuery, SpecLayout, layout_thread
from wfc.server._live import Push, live_pushes
from wfc.server._problems import ProblemError
from wfc.server._run_graph import RunNodes, ThreadNodes, node_states
from wfc.server._timeline import Timeline, all_history, run_timeline
from wfc.server._types import (
    Analytics,
    AnalyticsQuery,
    CancelRequest,
    ClaimRequest,
    CompleteRequest,
    CorrelatedEvent,
    CountsQuery,
    DeadLetterKind,
    DeadLettersQuery,
    DiffQuery,
    EmptyRequest,
    EventOutcome,
    Graph,
    GraphFormat,
    GraphQuery,
    HaltRequest,
    Health,
    Journal,
    JournalQuery,
    Readiness,
    ReassignRequest,
    RedriveOutcome,
    RedriveRequest,
    Refused,
    ReleaseRequest,
    Run,
    RunCounts,
    RunEvent,
    RunList,
    RunsQuery,
    RunView,
    SpecDiff,
    SpecList,
    StartRequest,
    StepTimes,
    UserTask,
    UserTaskCancelRequest,
    UserTaskDetail,
    UserTaskList,
    UserTasksQuery,
    Worker,
    WorkerList,
)
from wfc.server._views import journal_view, run_view, spec_summary, spec_view, user_task_detail, user_task_view
from wfc.specs import WorkflowSpec

# ---------------------------------------------------------------- health


async def healthz(call: Call[None, None]) -> Health:
    """The process is up (it answers)."""
    return Health()


async def run_counts(call: Call[CountsQuery, None]) -> RunCounts:
    counts = await call.engine.count_runs(call.query.workflow, cap=call.query.cap)
    return RunCounts(counts={status.value: n for status, n in counts.items()}, cap=call.query.cap)


async def analytics(call: Call[AnalyticsQuery, None]) -> Analytics:
    query = call.query
    since = read_moment(query.since, "since", "query parameter")
    if since > dt.datetime.now(dt.UTC):
        raise invalid(
            "query parameter",
            "since",
            f"{query.since!r} is in the future; give a moment before now, such as 24h or 2026-05-01",
        )
    stats = await call.engine.workflow_stats(query.workflow, since, sample=query.sample)
    return Analytics(
        workflow=stats.workflow,
        since=_bucket_moment(stats.since),
        until=_bucket_moment(stats.until),
        runs=stats.runs,
        sampled=stats.sampled,
        bucket=stats.bucket,
        started=[(_bucket_moment(at), count) for at, count in stats.started],
        statuses=stats.statuses,
        failure_rate=stats.failure_rate,
        compensation_rate=stats.compensation_rate,
        steps=[msgspec.convert(step, StepTimes, from_attributes=True) for step in stats.steps],
    )


def _bucket_moment(at: float) -> dt.datetime:
    """A moment of the analytics window. The first bucket of ``started``
    starts at a multiple of the bucket length at or before ``since``, up to
    a bucket (1/120 of the window) earlier: for a ``since`` near year 1,
    before year 1, which no datetime holds."""
    try:
        return dt.datetime.fromtimestamp(at, dt.UTC)
    except (OverflowError, ValueError, OSError):
        raise invalid(
            "query parameter",
            "since",
            "the window reaches back too far (its first bucket would start before year 1); give a later since, "
            "such as 30d or 2000-01-01",
        ) from None


async def list_workers(call: Call[None, None]) -> WorkerList:
    workers = await call.engine.list_workers()
    return WorkerList(workers=[msgspec.convert(w, Worker, from_attributes=True) for w in workers])


async def readyz(call: Call[None, None]) -> Readiness:
    """The database answers, holds wfc's tables and takes writes; 503 with the reason if not."""
    try:
        serving = await call.engine.serving_engines()
    except Exception as exc:  # the database is gone or damaged: not ready, and say why
        raise ProblemError(503, "not-ready", f"the database does not answer: {exc}") from None
    if not call.engine.read_only:
        try:
            await call.engine.check_writable()
        except StoreError as exc:  # it answers reads but takes no writes (a full disk)
            raise ProblemError(503, "not-ready", f"the database takes no writes: {exc}") from None
    return Readiness(status="ready", serving_engines=serving)


# ---------------------------------------------------------------- specs


async def list_specs(call: Call[None, None]) -> SpecList:
    return SpecList(specs=[spec_summary(s) for s in await call.engine.list_specs()])


async def _spec(call: Call[Any, Any], version: str | None = None) -> WorkflowSpec:
    name = call.path["name"]
    wanted = call.path.get("version") if version is None else version
    return await call.engine.get_spec(name, None if wanted in (None, "latest") else wanted)


async def get_spec(call: Call[None, None]) -> WorkflowSpec:
    return spec_view(await _spec(call))


async def spec_graph(call: Call[GraphQuery, None]) -> Graph:
    from wfc.cli.render_graph import to_dot, to_mermaid

    spec = await _spec(call)
    thread = call.query.thread
    if thread is not None and thread not in spec.threads:
        known = ", ".join(sorted(spec.threads))
        raise ProblemError(
            404, "unknown-thread", f"{spec.name} {spec.version} has no thread {thread!r}; its threads are: {known}"
        )
    threads = [thread] if thread is not None else [spec.entrypoint, *sorted(set(spec.threads) - {spec.entrypoint})]
    draw = to_mermaid if call.query.format is GraphFormat.MERMAID else to_dot
    return Graph(name=spec.name, version=str(spec.version), format=call.query.format, text=draw(spec, threads))


async def spec_layout(call: Call[LayoutQuery, None]) -> SpecLayout:
    spec = await _spec(call)
    wanted = call.query.thread
    if wanted is not None and wanted not in spec.threads:
        known = ", ".join(sorted(spec.threads))
        raise ProblemError(
            404, "unknown-thread", f"{spec.name} {spec.version} has no thread {wanted!r}; its threads are: {known}"
        )
    names = [wanted] if wanted is not None else [spec.entrypoint, *sorted(set(spec.threads) - {spec.entrypoint})]
    return SpecLayout(
        name=spec.name, version=str(spec.version), threads=[layout_thread(n, spec.threads[n]) for n in names]
    )


async def spec_diff(call: Call[DiffQuery, None]) -> SpecDiff:
    from wfc.cli.diff_cmd import diff_as_json
    from wfc.compiler import diff_specs, next_version

    old, new = await _spec(call, call.query.old), await _spec(call, call.query.new)
    document = diff_as_json(diff_specs(old, new), old, new, next_version(old, new))
    return msgspec.convert(document, SpecDiff)


# ---------------------------------------------------------------- runs


def _moment(text: str | None, name: str, source: Source) -> dt.datetime | None:
    return None if text is None else read_moment(text, name, source)


def _encode_cursor(key: RunKey | None) -> str | None:
    if key is None:
        return None
    raw = msgspec.json.encode([1, key.created_at, key.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> RunKey | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, created_at, run_id = msgspec.json.decode(raw, type=tuple[int, float, str])
        if version != 1:
            raise ValueError(version)
        check_run_id(run_id)  # no run id this server gave holds a NUL, which PostgreSQL refuses to compare
    except (binascii.Error, ValueError, msgspec.DecodeError, UsageError):
        raise ProblemError(
            400, "bad-cursor", "the cursor is not one this server gave; start again without cursor"
        ) from None
    return RunKey(created_at=created_at, id=run_id)


async def _page(
    call: Call[Any, Any], query: RunsQuery | DeadLettersQuery, source: Source = "query parameter", **fixed: Any
) -> RunList:
    """One page of the runs ``query`` matches; ``source`` says where its
    filters came from, for the problems that name them."""
    criteria: dict[str, Any] = {
        "workflow": query.workflow,
        "version": query.version,
        "started_after": _moment(query.started_after, "started_after", source),
        "started_before": _moment(query.started_before, "started_before", source),
        "updated_after": _moment(query.updated_after, "updated_after", source),
        "updated_before": _moment(query.updated_before, "updated_before", source),
        **fixed,
    }
    if query.version is not None and query.workflow is None:
        raise ProblemError(422, "invalid-request", "version needs workflow: versions are per workflow")
    if query.where:
        known = await call.engine.searchable_variables(query.workflow)
        criteria["where"] = parse_where(query.where, ":", known)
    page = await call.engine.list_runs_page(**criteria, limit=query.limit, after=_decode_cursor(query.cursor))
    return RunList(runs=[run_view(info, query.view) for info in page.runs], next_cursor=_encode_cursor(page.next))


def _duration(text: str | None, name: str) -> float | None:
    """A duration parameter, read as ``wfc runs list --stuck`` reads it."""
    import typer

    from wfc.cli.runs_cmd import parse_duration

    if text is None:
        return None
    try:
        return parse_duration(text, name)
    except typer.BadParameter as exc:
        raise invalid("query parameter", name, exc.message) from None


async def list_runs(call: Call[RunsQuery, None]) -> RunList:
    query = call.query
    statuses = [s.value for s in query.status] or None
    stuck_for = _duration(query.stuck_for, "stuck_for")
    return await _page(call, query, status=statuses, needs_attention=query.needs_attention, stuck_for=stuck_for)


async def get_run(call: Call[None, None]) -> Run:
    return run_view(await call.engine.get_run(call.path["run_id"]))


async def start_run(call: Call[None, StartRequest]) -> Run | Reply:
    body = call.body
    # 201 for the call that created the run, 200 when it existed with the
    # same inputs (decided in the engine's transaction, so of concurrent
    # first starts exactly one is 201); other inputs are refused (409).
    started = await call.engine.start_run(
        body.workflow, body.inputs, run_id=body.run_id, version=body.version, traceparent=call.traceparent
    )
    run = run_view(await call.engine.get_run(started.run_id))
    return run if started.created else Reply(run, 200)


async def journal(call: Call[JournalQuery, None]) -> Journal:
    query, run_id = call.query, call.path["run_id"]
    entries = await call.engine.history(
        run_id, query.after, query.limit, kinds=journal_kinds(query.kind), node=query.node, thread=query.thread
    )
    info = await call.engine.get_run(run_id)
    names = {t.number: t.name for t in info.threads}
    last = entries[-1].seq if len(entries) == query.limit else None
    return Journal(entries=journal_view(entries, names), next_after=last)


async def run_nodes(call: Call[None, None]) -> RunNodes:
    run_id = call.path["run_id"]
    info = await call.engine.get_run(run_id)
    states = node_states(await all_history(call.engine, run_id))
    threads = [
        ThreadNodes(number=t.number, name=t.name, parent=t.parent, states=states.get(t.number, {}))
        for t in info.threads
    ]
    return RunNodes(run_id=run_id, workflow=info.workflow, version=str(info.version), threads=threads)


async def run_gantt(call: Call[None, None]) -> Timeline:
    return await run_timeline(call.engine, call.path["run_id"])


async def halt(call: Call[None, HaltRequest]) -> Run:
    return run_view(await call.engine.halt(call.path["run_id"], call.body.reason))


async def resume(call: Call[None, EmptyRequest]) -> Run:
    return run_view(await call.engine.resume(call.path["run_id"]))


async def cancel(call: Call[None, CancelRequest]) -> Run:
    body = call.body
    return run_view(await call.engine.cancel(call.path["run_id"], body.reason, body.compensate))


async def retry(call: Call[None, EmptyRequest]) -> Run:
    return run_view(await call.engine.retry(call.path["run_id"]))


# ---------------------------------------------------------------- events


async def send_to_run(call: Call[None, RunEvent]) -> EventOutcome:
    body = call.body
    sent = await call.engine.send_event(body.name, body.payload, run_id=call.path["run_id"], event_id=body.event_id)
    return EventOutcome(event=body.name, event_id=sent.event_id, run_id=sent.run_id, duplicate=sent.duplicate)


async def send_correlated(call: Call[None, CorrelatedEvent]) -> EventOutcome:
    body = call.body
    sent = await call.engine.send_event(
        body.name, body.payload, correlation=body.correlation, event_id=body.event_id
    )
    return EventOutcome(event=body.name, event_id=sent.event_id, run_id=sent.run_id, duplicate=sent.duplicate)


# ---------------------------------------------------------------- dead letters


def _attention(kind: DeadLetterKind) -> bool | None:
    return {DeadLetterKind.ALL: None, DeadLetterKind.FAILED: False, DeadLetterKind.COMPENSATION_FAILED: True}[kind]


async def dead_letters(call: Call[DeadLettersQuery, None]) -> RunList:
    query = call.query
    return await _page(call, query, status=["FAILED"], needs_attention=_attention(query.kind))


async def redrive(call: Call[None, RedriveRequest]) -> RedriveOutcome:
    body = call.body
    if body.run_id is not None:
        info = await call.engine.get_run(body.run_id)
        if info.status.value != "FAILED":
            raise RunStateError(body.run_id, info.status.value, "re-drive it", "only FAILED runs are dead letters")
        ids = [body.run_id]
        more = False
    else:
        filters = DeadLettersQuery(
            kind=body.kind,
            workflow=body.workflow,
            version=body.version,
            started_after=body.started_after,
            started_before=body.started_before,
            updated_after=body.updated_after,
            updated_before=body.updated_before,
            where=body.where,
        )
        ids, more = await _matching(call, filters, body.limit)
    retried: list[str] = []
    refused: list[Refused] = []
    for run_id in ids:
        try:
            await call.engine.retry(run_id)
        except RunStateError as exc:  # e.g. a `fail` node: a retry would only repeat it
            refused.append(Refused(run_id=run_id, detail=str(exc)))
        else:
            retried.append(run_id)
    return RedriveOutcome(retried=retried, refused=refused, more=more)


async def _matching(call: Call[Any, Any], query: DeadLettersQuery, limit: int) -> tuple[list[str], bool]:
    """Ids of up to ``limit`` dead letters ``query`` matches (collected
    first, so retried runs leaving the list do not shift the pages), and
    whether more match."""
    ids: list[str] = []
    cursor: str | None = None
    while len(ids) <= limit:
        # Brief: only the ids are read, so the runs' data is not copied into views.
        step = msgspec.structs.replace(query, limit=min(1000, limit + 1 - len(ids)), cursor=cursor, view=RunView.BRIEF)
        # The filters are the fields of a re-drive's body.
        page = await _page(call, step, "field", status=["FAILED"], needs_attention=_attention(query.kind))
        ids.extend(run.id for run in page.runs)
        cursor = page.next_cursor
        if cursor is None:
            break
    return ids[:limit], len(ids) > limit


# ---------------------------------------------------------------- user tasks


async def list_user_tasks(call: Call[UserTasksQuery, None]) -> UserTaskList:
    query = call.query
    tasks = await call.engine.list_user_tasks(
        user=query.user,
        group=query.group,
        status=[s.value for s in query.status] or None,
        run_id=query.run_id,
        limit=query.limit,
        after=query.after,
    )
    # A full page may have a next one; the cursor is the last id (keyset on created_at, id).
    last = tasks[-1].id if len(tasks) == query.limit else None
    return UserTaskList(items=[user_task_view(task) for task in tasks], next=last)


async def get_user_task(call: Call[None, None]) -> UserTaskDetail:
    task = await call.engine.get_user_task(call.path["task_id"])
    info = await call.engine.get_run(task.run_id)
    return user_task_detail(task, {t.number: t.name for t in info.threads})


async def claim_user_task(call: Call[None, ClaimRequest]) -> UserTask:
    return user_task_view(await call.engine.claim_user_task(call.path["task_id"], call.body.user))


async def release_user_task(call: Call[None, ReleaseRequest]) -> UserTask:
    return user_task_view(await call.engine.release_user_task(call.path["task_id"], by=call.body.by))


async def reassign_user_task(call: Call[None, ReassignRequest]) -> UserTask:
    body = call.body
    if body.user is None and body.group is None:
        raise ProblemError(422, "invalid-request", "give user, group or both: whom the task goes to")
    task = await call.engine.reassign_user_task(call.path["task_id"], user=body.user, group=body.group, by=body.by)
    return user_task_view(task)


async def complete_user_task(call: Call[None, CompleteRequest]) -> UserTask:
    body = call.body
    return user_task_view(await call.engine.complete_user_task(call.path["task_id"], body.values, user=body.user))


async def cancel_user_task(call: Call[None, UserTaskCancelRequest]) -> UserTask:
    body = call.body
    return user_task_view(await call.engine.cancel_user_task(call.path["task_id"], reason=body.reason, by=body.by))


# ---------------------------------------------------------------- the table

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/healthz", "healthz", "The process is up.", healthz, Health, public=True, tags=("health",)),
    Endpoint(
        "GET", "/readyz", "readyz", "The database answers and is migrated.", readyz, Readiness, public=True,
        other_statuses=(503,), tags=("health",),
    ),
    Endpoint(
        "GET", "/workers", "listWorkers", "Every engine registered on the database: tasks, heartbeat, leases.",
        list_workers, WorkerList, cli=("workers",), tags=("health",),
    ),
    Endpoint(
        "GET", "/run-counts", "countRuns", "Runs per status (of a workflow), each counted up to a cap.",
        run_counts, RunCounts, query=CountsQuery, tags=("runs",),
    ),
    Endpoint(
        "GET", "/analytics", "getAnalytics",
        "One workflow over a window: runs started per minute, failure and compensation rates, step p50/p95.",
        analytics, Analytics, query=AnalyticsQuery, tags=("runs",),
    ),
    Endpoint("GET", "/specs", "listSpecs", "Every deployed spec version.", list_specs, SpecList, tags=("specs",)),
    Endpoint(
        "GET", "/specs/{name}/diff", "diffSpecs", "What changed between two deployed versions, and the bump it needs.",
        spec_diff, SpecDiff, query=DiffQuery, cli=("diff",), tags=("specs",),
    ),
    Endpoint(
        "GET", "/specs/{name}/{version}", "getSpec", "One deployed spec version ('latest' for the newest).",
        get_spec, WorkflowSpec, tags=("specs",),
    ),
    Endpoint(
        "GET", "/specs/{name}/{version}/graph", "getSpecGraph", "A spec version drawn as Mermaid or dot.",
        spec_graph, Graph, query=GraphQuery, cli=("graph",), tags=("specs",),
    ),
    Endpoint(
        "GET", "/specs/{name}/{version}/layout", "getSpecLayout",
        "A spec version laid out in layers: boxes and polylines per thread, for drawing.",
        spec_layout, SpecLayout, query=LayoutQuery, tags=("specs",),
    ),
    Endpoint(
        "GET", "/runs", "listRuns", "Runs, newest first, filtered, one page at a time.", list_runs, RunList,
        query=RunsQuery, cli=("runs list",), tags=("runs",),
    ),
    Endpoint(
        "POST", "/runs", "startRun", "Start a run; idempotent by run_id (200: it existed, 201: started).",
        start_run, Run, body=StartRequest, status=201, other_statuses=(200,), cli=("run",), tags=("runs",),
    ),
    Endpoint(
        "GET", "/runs/{run_id}", "getRun", "Where a run is: status, variables, threads.", get_run, Run,
        cli=("runs show",), tags=("runs",),
    ),
    Endpoint(
        "GET", "/runs/{run_id}/history", "getJournal", "A run's journal, filtered, one page at a time.", journal,
        Journal, query=JournalQuery, cli=("runs history",), tags=("runs",),
    ),
    Endpoint(
        "GET", "/runs/{run_id}/nodes", "getRunNodes",
        "The state of every node each thread of a run reached (done, running, waiting, failed, compensated).",
        run_nodes, RunNodes, tags=("runs",),
    ),
    Endpoint(
        "GET", "/runs/{run_id}/timeline", "getRunTimeline",
        "A run's attempts, waits, sleeps, threads and compensations as bars in time (the spans of its trace).",
        run_gantt, Timeline, tags=("runs",),
    ),
    Endpoint(
        "POST", "/runs/{run_id}/halt", "haltRun", "Pause a run.", halt, Run, body=HaltRequest,
        cli=("runs halt",), tags=("control",),
    ),
    Endpoint(
        "POST", "/runs/{run_id}/resume", "resumeRun", "Let a HALTED run go on.", resume, Run, body=EmptyRequest,
        cli=("runs resume",), tags=("control",),
    ),
    Endpoint(
        "POST", "/runs/{run_id}/cancel", "cancelRun", "Cancel a run, optionally compensating it first.", cancel,
        Run, body=CancelRequest, cli=("runs cancel",), tags=("control",),
    ),
    Endpoint(
        "POST", "/runs/{run_id}/retry", "retryRun", "Re-run the node a FAILED run failed at.", retry, Run,
        body=EmptyRequest, cli=("runs retry",), tags=("control",),
    ),
    Endpoint(
        "POST", "/runs/{run_id}/events", "sendEvent", "Send an event to a run.", send_to_run, EventOutcome,
        body=RunEvent, cli=("event send",), tags=("events",),
    ),
    Endpoint(
        "POST", "/events", "sendCorrelatedEvent", "Send an event to the run waiting with its correlation key.",
        send_correlated, EventOutcome, body=CorrelatedEvent, cli=("event send",), tags=("events",),
    ),
    Endpoint(
        "GET", "/journal", "readFeed", "Every run's journal entries after a position, in commit order.",
        journal_feed, Feed, query=FeedQuery, cli=("runs watch",), tags=("runs",),
    ),
    Endpoint(
        "GET", "/live", "livePushes",
        "Server-sent events: a `push` naming the runs that changed, within a second of each commit.",
        live_pushes, Push, media_type="text/event-stream", tags=("runs",),
    ),
    Endpoint(
        "POST", "/retention/purge", "purgeRuns", "Delete (or count) finished runs and everything stored for them.",
        purge, PurgeOutcome, body=PurgeRequest, cli=("runs purge",), tags=("retention",),
    ),
    Endpoint(
        "GET", "/retention/export", "exportRuns",
        "Finished runs with their journals, one JSON line per run (streamed), to archive before a purge.",
        export, ExportLine, query=ExportQuery, cli=("runs export",), tags=("retention",), media_type=NDJSON,
    ),
    Endpoint(
        "GET", "/user-tasks", "listUserTasks",
        "User tasks, oldest first, filtered by user, group, status and run, one page at a time.",
        list_user_tasks, UserTaskList, query=UserTasksQuery, cli=("tasks list",), tags=("user tasks",),
    ),
    Endpoint(
        "GET", "/user-tasks/{task_id}", "getUserTask", "A user task with its form and audit trail.",
        get_user_task, UserTaskDetail, cli=("tasks show",), tags=("user tasks",),
    ),
    Endpoint(
        "POST", "/user-tasks/{task_id}/claim", "claimUserTask", "Claim a task offered to a group.",
        claim_user_task, UserTask, body=ClaimRequest, cli=("tasks claim",), tags=("user tasks",),
    ),
    Endpoint(
        "POST", "/user-tasks/{task_id}/release", "releaseUserTask", "Give an ASSIGNED task back to its group.",
        release_user_task, UserTask, body=ReleaseRequest, cli=("tasks release",), tags=("user tasks",),
    ),
    Endpoint(
        "POST", "/user-tasks/{task_id}/reassign", "reassignUserTask", "Give an open task to another user and/or group.",
        reassign_user_task, UserTask, body=ReassignRequest, cli=("tasks reassign",), tags=("user tasks",),
    ),
    Endpoint(
        "POST", "/user-tasks/{task_id}/complete", "completeUserTask",
        "Complete an open task with values for its form (422 names each refused field in `errors`).",
        complete_user_task, UserTask, body=CompleteRequest, cli=("tasks complete",), tags=("user tasks",),
    ),
    Endpoint(
        "POST", "/user-tasks/{task_id}/cancel", "cancelUserTask",
        "Cancel an open task: its node fails with USER_TASK_CANCELLED.",
        cancel_user_task, UserTask, body=UserTaskCancelRequest, cli=("tasks cancel",), tags=("user tasks",),
    ),
    Endpoint(
        "GET", "/dead-letters", "listDeadLetters", "FAILED runs: failed, or whose compensation failed.",
        dead_letters, RunList, query=DeadLettersQuery, tags=("dead letters",),
    ),
    Endpoint(
        "POST", "/dead-letters/redrive", "redriveDeadLetters", "Retry one dead letter, or all a filter matches.",
        redrive, RedriveOutcome, body=RedriveRequest, tags=("dead letters",),
    ),
)
