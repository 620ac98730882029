"""What the engine returns, as the API's response types, with every masked
value hidden (the same redaction the CLI applies: :meth:`RunInfo.redacted`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import UNSET

from wfc.runtime import HistoryEntry, RunInfo, ThreadInfo
from wfc.server._types import (
    Failure,
    Form,
    FormField,
    JournalEntry,
    Run,
    RunView,
    SpecSummary,
    Status,
    StuckReason,
    Thread,
    UserTask,
    UserTaskDetail,
    UserTaskStatus,
)
from wfc.specs import TaskNode, VariableDef, WorkflowSpec

if TYPE_CHECKING:
    from wfc.runtime import UserTask as UserTaskRecord

MASK = "***"


def run_view(info: RunInfo, view: RunView = RunView.FULL) -> Run:
    """A run as the API shows it: masked values as ``"***"`` wherever they
    appear; in the ``brief`` view without its data (``UNSET``: absent from
    the JSON)."""
    # Redacted in either view: the failure, what threads wait for and the
    # compensation, which the brief view keeps, may quote masked values.
    info = info.redacted()
    brief = view is RunView.BRIEF
    return Run(
        id=info.id,
        workflow=info.workflow,
        version=str(info.version),
        status=Status(info.status.value),
        created_at=info.created_at.astimezone(dt.UTC),
        updated_at=info.updated_at.astimezone(dt.UTC),
        node=info.node,
        waiting_on=info.waiting_on,
        variables=UNSET if brief else info.variables,
        masked=UNSET if brief else sorted(info.masked),
        output=UNSET if brief else info.output,
        failure=None if info.failure is None else msgspec.convert(msgspec.to_builtins(info.failure), Failure),
        threads=UNSET if brief else [_thread_view(t) for t in info.threads],
        pending_events=UNSET if brief else list(info.pending_events),
        needs_attention=info.needs_attention,
        compensation=info.compensation,
        stuck=[msgspec.convert(msgspec.to_builtins(reason), StuckReason) for reason in info.stuck],
        unreadable=info.unreadable,
    )


def _thread_view(t: ThreadInfo) -> Thread:
    return Thread(
        number=t.number,
        name=t.name,
        kind=t.kind,
        parent=t.parent,
        status=t.status.value,
        node=t.node,
        waiting_on=t.waiting_on,
        attempt=t.attempt,
        halt_reason=t.halt_reason,
    )


def journal_view(entries: Sequence[HistoryEntry], threads: dict[int, str]) -> list[JournalEntry]:
    """Journal entries (stored with masked values as ``"***"`` already)."""
    return [
        JournalEntry(
            seq=e.seq,
            timestamp=e.timestamp.astimezone(dt.UTC),
            thread=e.thread,
            thread_name=threads.get(e.thread),
            node=e.node,
            kind=e.kind,
            attempt=e.attempt,
            detail=e.detail,
        )
        for e in entries
    ]


def spec_tasks(spec: WorkflowSpec) -> list[str]:
    """The task names the spec's nodes run."""
    return sorted(
        {node.task for thread in spec.threads.values() for node in thread.nodes.values() if isinstance(node, TaskNode)}
    )


def spec_summary(spec: WorkflowSpec) -> SpecSummary:
    """A deployed version in a list."""
    return SpecSummary(
        name=spec.name,
        version=str(spec.version),
        hash=spec.hash,
        threads=sorted(spec.threads),
        tasks=spec_tasks(spec),
    )


def _masked_defaults(variables: dict[str, VariableDef]) -> dict[str, VariableDef]:
    return {
        name: msgspec.structs.replace(v, default=MASK) if v.masked and v.default is not None else v
        for name, v in variables.items()
    }


def spec_view(spec: WorkflowSpec) -> WorkflowSpec:
    """A spec as the API shows it: the defaults of masked variables read
    ``"***"`` (the spec is otherwise the deployed one, hash included)."""
    threads = {
        name: msgspec.structs.replace(thread, variables=_masked_defaults(thread.variables))
        for name, thread in spec.threads.items()
    }
    return msgspec.structs.replace(spec, variables=_masked_defaults(spec.variables), threads=threads)


def user_task_view(task: UserTaskRecord) -> UserTask:
    """A user task as the API shows it (the document ``wfc tasks list --json`` prints)."""
    return UserTask(**_user_task_fields(task))


def user_task_detail(task: UserTaskRecord, threads: dict[int, str]) -> UserTaskDetail:
    """A user task with its audit trail; ``threads`` names thread numbers."""
    return UserTaskDetail(**_user_task_fields(task), audit=journal_view(task.audit, threads))


def _user_task_fields(task: UserTaskRecord) -> dict[str, Any]:
    form = Form(
        name=task.form.name,
        fields=[
            FormField(
                name=f.name, type=f.type, required=f.required, display_name=f.display_name, description=f.description
            )
            for f in task.form.fields
        ],
    )
    return {
        "id": task.id,
        "run_id": task.run_id,
        "workflow": task.workflow,
        "version": str(task.version),
        "thread": task.thread,
        "node": task.node,
        "form": form,
        "status": UserTaskStatus(task.status.value),
        "user": task.user,
        "group": task.group,
        "notes": task.notes,
        "created_at": task.created_at.astimezone(dt.UTC),
        "updated_at": task.updated_at.astimezone(dt.UTC),
        "values": task.values,
        "completed_by": task.completed_by,
    }
