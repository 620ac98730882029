"""The SQL only the PostgreSQL dialect has: the flush of a whole batch in
one statement, and the leases many processes share. The SQL both dialects
share is in :mod:`.core`.

Every statement runs with ``search_path`` set to wfc's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from wfc.runtime.store.base import WriteBatch, search_rows, user_task_row

# ---------------------------------------------------------------- transactions

#: Every queued write of a transaction in one statement; returns the ids of
#: the runs whose version matched (and was bumped).
FLUSH: Final = """
WITH changed AS (
    UPDATE runs AS r
    SET status = u.status, state = u.state, updated_at = u.updated_at, state_format = u.state_format,
        needs_attention = u.needs_attention, version = r.version + 1, major = u.major, revision = u.revision
    FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int8[], $44::int4[], $50::bool[],
                $74::int4[], $75::int4[])
        AS u(id, status, state, updated_at, expected, state_format, needs_attention, major, revision)
    WHERE r.id = u.id AND r.version = u.expected
    RETURNING r.id
), created AS (
    INSERT INTO runs (id, workflow, major, revision, status, version, state, created_at, updated_at, state_format,
                      needs_attention, trace_context)
    SELECT n.id, n.workflow, n.major, n.revision, n.status, 1, n.state, n.created_at, n.updated_at, n.state_format,
           n.needs_attention, n.trace_context
    FROM unnest($6::text[], $7::text[], $8::int4[], $9::int4[], $10::text[], $11::text[], $12::float8[],
                $13::float8[], $45::int4[], $51::bool[], $58::text[])
        AS n(id, workflow, major, revision, status, state, created_at, updated_at, state_format, needs_attention,
             trace_context)
), journaled AS (
    INSERT INTO journal (run_id, seq, at, thread, node, kind, attempt, detail)
    SELECT * FROM unnest($14::text[], $15::int4[], $16::float8[], $17::int4[], $18::text[], $19::text[],
                         $20::int4[], $21::text[])
), put_tasks AS (
    INSERT INTO tasks (dispatch_id, run_id, workflow, thread, node, task, args, attempt, idempotency_key,
                       timeout, created_at, lease_owner, lease_expires_at)
    SELECT * FROM unnest($22::text[], $23::text[], $24::text[], $25::int4[], $26::text[], $27::text[],
                         $28::text[], $29::int4[], $30::text[], $31::float8[], $32::float8[], $33::text[],
                         $34::float8[])
    ON CONFLICT (dispatch_id) DO UPDATE SET lease_owner = excluded.lease_owner,
        lease_expires_at = coalesce(excluded.lease_expires_at, tasks.lease_expires_at)
), dropped_tasks AS (
    DELETE FROM tasks WHERE dispatch_id = ANY($35::text[])
), put_timers AS (
    INSERT INTO timers (run_id, timer, due_at)
    SELECT * FROM unnest($36::text[], $37::int4[], $38::float8[])
    ON CONFLICT (run_id, timer) DO UPDATE SET due_at = excluded.due_at, lease_owner = NULL,
        lease_expires_at = NULL
), dropped_timers AS (
    DELETE FROM timers AS t USING unnest($39::text[], $40::int4[]) AS d(run_id, timer)
    WHERE t.run_id = d.run_id AND t.timer = d.timer
), put_threads AS (
    INSERT INTO run_threads (run_id, number, state)
    SELECT * FROM unnest($46::text[], $47::int4[], $48::text[])
    ON CONFLICT (run_id, number) DO UPDATE SET state = excluded.state
), dropped_threads AS (
    DELETE FROM run_threads WHERE run_id = ANY($49::text[])
), put_search AS (
    INSERT INTO run_search (run_id, key, value, run_created)
    SELECT * FROM unnest($52::text[], $53::text[], $54::text[], $55::float8[])
    ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
), dropped_search AS (
    DELETE FROM run_search AS s USING unnest($56::text[], $57::text[]) AS d(run_id, key)
    WHERE s.run_id = d.run_id AND s.key = d.key
), put_user_tasks AS (
    INSERT INTO user_tasks (id, run_id, workflow, major, revision, thread, node, form, status, user_id, user_group,
                            notes, created_at, updated_at, body)
    SELECT * FROM unnest($59::text[], $60::text[], $61::text[], $62::int4[], $63::int4[], $64::int4[], $65::text[],
                         $66::text[], $67::text[], $68::text[], $69::text[], $70::text[], $71::float8[],
                         $72::float8[], $73::text[])
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, user_id = excluded.user_id,
        user_group = excluded.user_group, notes = excluded.notes, updated_at = excluded.updated_at,
        body = excluded.body, major = excluded.major, revision = excluded.revision, node = excluded.node
), dropped_waits AS (
    DELETE FROM event_waits AS w
    WHERE w.run_id = ANY($41::text[]) OR (w.run_id, w.thread) IN (SELECT * FROM unnest($42::text[], $43::int4[]))
)
SELECT array(SELECT id FROM changed)
"""
#: Forget waits: every wait of the runs $1, and the waits of threads ($2, $3).
DROP_WAITS: Final = (
    "DELETE FROM event_waits AS w WHERE w.run_id = ANY($1::text[]) "
    "OR (w.run_id, w.thread) IN (SELECT * FROM unnest($2::text[], $3::int4[]))"
)


def unwait_arguments(unwaited: Sequence[tuple[str, int | None]]) -> list[list[Any]]:
    """The three array arguments of :data:`DROP_WAITS`."""
    return [
        [run_id for run_id, thread in unwaited if thread is None],
        [run_id for run_id, thread in unwaited if thread is not None],
        [thread for _, thread in unwaited if thread is not None],
    ]


def flush_arguments(batch: WriteBatch, unwaited: Sequence[tuple[str, int | None]] = ()) -> list[list[Any]]:
    """The 75 array arguments of :data:`FLUSH`: a batch, and waits to forget."""
    changed = [r for r in batch.runs.values() if r.expected_version is not None]
    new = [r for r in batch.runs.values() if r.expected_version is None]
    puts = [t for t in batch.tasks.values() if t is not None]
    drops = [key for key, t in batch.tasks.items() if t is None]
    timers = [t for t in batch.timers.values() if t is not None]
    untimed = [key for key, t in batch.timers.items() if t is None]
    journal = batch.journal
    return [
        [r.id for r in changed],
        [r.status for r in changed],
        [r.state.decode() for r in changed],
        [r.updated_at for r in changed],
        [r.expected_version for r in changed],
        [r.id for r in new],
        [r.workflow for r in new],
        [r.major for r in new],
        [r.revision for r in new],
        [r.status for r in new],
        [r.state.decode() for r in new],
        [r.created_at for r in new],
        [r.updated_at for r in new],
        [j.run_id for j in journal],
        [j.seq for j in journal],
        [j.at for j in journal],
        [j.thread for j in journal],
        [j.node for j in journal],
        [j.kind for j in journal],
        [j.attempt for j in journal],
        [j.detail.decode() for j in journal],
        [t.dispatch_id for t in puts],
        [t.run_id for t in puts],
        [t.workflow for t in puts],
        [t.thread for t in puts],
        [t.node for t in puts],
        [t.task for t in puts],
        [t.args.decode() for t in puts],
        [t.attempt for t in puts],
        [t.idempotency_key for t in puts],
        [t.timeout for t in puts],
        [t.created_at for t in puts],
        [t.lease_owner for t in puts],
        [t.lease_expires_at for t in puts],
        drops,
        [t.run_id for t in timers],
        [t.timer for t in timers],
        [t.due_at for t in timers],
        [run_id for run_id, _ in untimed],
        [timer for _, timer in untimed],
        *unwait_arguments(unwaited),
        [r.state_format for r in changed],
        [r.state_format for r in new],
        *thread_arguments(batch),
        [r.needs_attention for r in changed],
        [r.needs_attention for r in new],
        *search_arguments(batch),
        [r.trace for r in new],
        *user_task_arguments(batch),
        [r.major for r in changed],
        [r.revision for r in changed],
    ]


def user_task_arguments(batch: WriteBatch) -> list[list[Any]]:
    """The ``user_tasks`` rows of :data:`FLUSH` ($59-$73), one array per
    column of :data:`~wfc.runtime.store.base.USER_TASK_COLUMNS`."""
    rows = [user_task_row(t) for t in batch.user_tasks.values()]
    return [[row[column] for row in rows] for column in range(15)]


def search_arguments(batch: WriteBatch) -> list[list[Any]]:
    """The ``run_search`` rows of :data:`FLUSH` ($52-$57): rows to upsert,
    and ``(run_id, key)`` rows to delete."""
    puts, drops = search_rows(batch)
    return [
        [run_id for run_id, _, _, _ in puts],
        [key for _, key, _, _ in puts],
        [value for _, _, value, _ in puts],
        [created for _, _, _, created in puts],
        [run_id for run_id, _ in drops],
        [key for _, key in drops],
    ]


def thread_arguments(batch: WriteBatch) -> list[list[Any]]:
    """The thread rows of :data:`FLUSH` ($46-$49): the threads to upsert,
    and the runs written whole whose thread rows go."""
    rows = [(r.id, n, b.decode()) for r in batch.runs.values() if r.threads for n, b in r.threads.items()]
    return [
        [run_id for run_id, _, _ in rows],
        [number for _, number, _ in rows],
        [state for _, _, state in rows],
        [r.id for r in batch.runs.values() if r.threads is None and r.expected_version is not None],
    ]


# ---------------------------------------------------------------- leases

REGISTER_ENGINE: Final = (
    "INSERT INTO engines (id, host, pid, started_at, heartbeat_at, backend_pid, backend_start, tasks) "
    "VALUES ($1, $2, $3, $4, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
    "backend_pid = excluded.backend_pid, backend_start = excluded.backend_start"
)
#: Extend this engine's leases; returns whether its row is still there.
HEARTBEAT: Final = """
WITH engine AS (UPDATE engines SET heartbeat_at = $2 WHERE id = $1 RETURNING 1),
held_tasks AS (UPDATE tasks SET lease_expires_at = $3 WHERE lease_owner = $1),
held_timers AS (UPDATE timers SET lease_expires_at = $3 WHERE lease_owner = $1)
SELECT EXISTS (SELECT 1 FROM engine)
"""
#: Engines whose heartbeat is older than $1, or whose session ended, are
#: gone: drop them and release their leases (a released attempt keeps its
#: lease_expires_at, so its next claim delivers it again through its run).
#: Without the privilege to see another user's sessions, backend_start reads
#: NULL and the pid alone is compared.
REAP_ENGINES: Final = """
WITH dead AS (
    DELETE FROM engines AS e
    WHERE e.heartbeat_at < $1
       OR (e.backend_pid IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM pg_stat_activity AS a
            WHERE a.pid = e.backend_pid AND (a.backend_start IS NULL OR a.backend_start = e.backend_start)))
    RETURNING e.id
), freed_tasks AS (
    UPDATE tasks SET lease_owner = NULL WHERE lease_owner IN (SELECT id FROM dead) RETURNING task
), freed_timers AS (
    UPDATE timers SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IN (SELECT id FROM dead)
    RETURNING 1
)
SELECT array(SELECT id FROM dead) AS dead, array(SELECT DISTINCT task FROM freed_tasks) AS tasks,
       EXISTS (SELECT 1 FROM freed_timers) AS timers
"""
RELEASE_ENGINE: Final = """
WITH freed_tasks AS (
    UPDATE tasks SET lease_owner = NULL WHERE lease_owner = $1 RETURNING task
), freed_timers AS (
    UPDATE timers SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1 RETURNING 1
), gone AS (
    DELETE FROM engines WHERE id = $1
)
SELECT array(SELECT DISTINCT task FROM freed_tasks) AS tasks, EXISTS (SELECT 1 FROM freed_timers) AS timers
"""
#: Lease up to $5 attempts of the tasks $3 that nobody holds (at $4), oldest
#: first, skipping rows another claimer is taking right now.
CLAIM_TASKS: Final = """
WITH picked AS (
    SELECT dispatch_id, lease_expires_at IS NULL AS fresh FROM tasks
    WHERE task = ANY($3::text[]) AND (lease_owner IS NULL OR lease_expires_at < $4)
    ORDER BY created_at LIMIT $5
    FOR UPDATE SKIP LOCKED
)
UPDATE tasks AS t SET lease_owner = $1, lease_expires_at = $2
FROM picked WHERE t.dispatch_id = picked.dispatch_id
RETURNING t.*, picked.fresh
"""
#: Lease up to $4 timers due at $3 that nobody else holds.
CLAIM_TIMERS: Final = """
WITH picked AS (
    SELECT run_id, timer FROM timers
    WHERE due_at <= $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at < $3)
    ORDER BY due_at LIMIT $4
    FOR UPDATE SKIP LOCKED
)
UPDATE timers AS t SET lease_owner = $1, lease_expires_at = $2
FROM picked WHERE t.run_id = picked.run_id AND t.timer = picked.timer
RETURNING t.run_id, t.timer, t.due_at
"""
