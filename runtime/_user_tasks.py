"""User tasks as the engine hands them out, and the rows a commit writes.

A user task lives in its run's state (the interpreter's ``UserTaskWait``);
every change of it comes out of a transition as a ``UserTaskChanged``
effect, which the turn writes to ``user_tasks`` (:func:`task_row`) in the
same commit as the run. That row is the inbox and the way from a task id to
its run; :func:`user_task` turns it, with its form from the run's spec, into
the public :class:`UserTask`. The audit trail is the run's journal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from wfc.runtime._records import HistoryEntry, to_datetime
from wfc.runtime.interpreter.messages import UserTaskChanged
from wfc.runtime.interpreter.state import RunState, UserTaskStatus
from wfc.runtime.store import UserTaskRecord
from wfc.specs import FormDef

_JSON = msgspec.json.Encoder()


class UserTask(msgspec.Struct, frozen=True, kw_only=True):
    """A user task: work for a person inside a run, as stored now."""

    id: str
    run_id: str
    workflow: str
    version: str
    """The spec version of its run (``"1.0"``)."""
    thread: int
    """The run's thread it belongs to."""
    node: str
    """Its ``user_task`` node."""
    form: FormDef
    """What the person fills in: the fields, with their types and labels."""
    status: UserTaskStatus
    user: str | None
    """Who it is assigned to (ASSIGNED); ``None`` while only offered to its group."""
    group: str | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    values: dict[str, Any] | None = None
    """What it was completed with (DONE)."""
    completed_by: str | None = None
    """Who completed it (``None``: not DONE, or completed by an operator)."""
    audit: list[HistoryEntry] = []
    """Every journal entry of its run that names it, in order (assigned,
    claimed, released, reassigned, reminded, completed, cancelled, with who
    and when): filled by ``get_user_task`` only."""

    @property
    def open(self) -> bool:
        """True while someone can still act on it (UNASSIGNED or ASSIGNED)."""
        return self.status.open


def task_row(run_id: str, state: RunState, change: UserTaskChanged) -> UserTaskRecord:
    """The ``user_tasks`` row a ``UserTaskChanged`` effect of run ``state`` writes."""
    body: dict[str, Any] = {}
    if change.values is not None:
        body["values"] = change.values
    if change.by is not None:
        body["by"] = change.by
        if change.status is UserTaskStatus.DONE:
            body["completed_by"] = change.by
    return UserTaskRecord(
        id=change.id,
        run_id=run_id,
        workflow=state.workflow,
        major=state.version.major,
        revision=state.version.revision,
        thread=change.thread,
        node=change.node,
        form=change.form,
        status=change.status.value,
        user=change.user,
        group=change.group,
        notes=change.notes,
        created_at=change.created_at,
        updated_at=change.updated_at,
        body=_JSON.encode(body),
    )


def user_task(record: UserTaskRecord, form: FormDef, audit: list[HistoryEntry] | None = None) -> UserTask:
    """The public record of a stored row; ``form``: its definition from the run's spec."""
    body = msgspec.json.decode(record.body)
    body = body if isinstance(body, dict) else {}
    return UserTask(
        id=record.id,
        run_id=record.run_id,
        workflow=record.workflow,
        version=f"{record.major}.{record.revision}",
        thread=record.thread,
        node=record.node,
        form=form,
        status=UserTaskStatus(record.status),
        user=record.user,
        group=record.group,
        notes=record.notes,
        created_at=to_datetime(record.created_at),
        updated_at=to_datetime(record.updated_at),
        values=body.get("values"),
        completed_by=body.get("completed_by"),
        audit=list(audit or ()),
    )
