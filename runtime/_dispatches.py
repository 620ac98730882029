"""The one conversion between the interpreter's task dispatches and what
the engine stores and runs: the outbox row of a dispatch, the dispatch of a
claimed row, and the :class:`~wfc.runtime.TaskContext` of an attempt."""

from __future__ import annotations

import msgspec

from wfc.runtime._tasks import TaskContext
from wfc.runtime.interpreter import DispatchTask
from wfc.runtime.store import TaskRecord

_JSON = msgspec.json.Encoder()


def outbox_row(effect: DispatchTask, now: float, lease_owner: str | None, lease_until: float | None) -> TaskRecord:
    """The outbox row of a dispatch, leased to ``lease_owner`` until
    ``lease_until`` when that engine runs it itself (``None``: left for any
    worker to claim)."""
    return TaskRecord(
        dispatch_id=effect.dispatch_id,
        run_id=effect.run_id,
        workflow=effect.workflow,
        thread=effect.thread,
        node=effect.node,
        task=effect.task,
        args=_JSON.encode(effect.args),
        attempt=effect.attempt,
        idempotency_key=effect.idempotency_key,
        timeout=effect.timeout,
        created_at=now,
        lease_owner=lease_owner,
        lease_expires_at=lease_until,
    )


def dispatch_of(row: TaskRecord) -> DispatchTask:
    """The dispatch a claimed outbox row holds."""
    return DispatchTask(
        dispatch_id=row.dispatch_id,
        idempotency_key=row.idempotency_key,
        run_id=row.run_id,
        workflow=row.workflow,
        thread=row.thread,
        node=row.node,
        task=row.task,
        args=msgspec.json.decode(row.args),
        attempt=row.attempt,
        timeout=row.timeout,
    )


def task_context(effect: DispatchTask) -> TaskContext:
    """What the task function of an attempt is told about it."""
    return TaskContext(
        run_id=effect.run_id,
        workflow=effect.workflow,
        task=effect.task,
        node_id=effect.node,
        thread=effect.thread,
        attempt=effect.attempt,
        idempotency_key=effect.idempotency_key,
    )
