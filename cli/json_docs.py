"""``--json`` output: runs and journals as plain JSON documents for scripts.

One document per command, on standard output. Datetimes are ISO 8601 strings
in UTC, enums their string values, versions ``"major.revision"``; masked
variables are ``"***"``, and so are their values wherever else they appear (the
output, the failure), as everywhere the CLI shows a run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from wfc.cli import output
from wfc.runtime import HistoryEntry, RunInfo, SentEvent

if TYPE_CHECKING:  # the engine's modules only where an engine is used (wfc runs export)
    from wfc.runtime import Engine, UserTask


def run_document(info: RunInfo) -> dict[str, Any]:
    """A run as JSON-ready data, secrets as ``"***"`` (:meth:`RunInfo.redacted`)."""
    info = info.redacted()
    document: dict[str, Any] = {
        "id": info.id,
        "workflow": info.workflow,
        "version": str(info.version),
        "status": info.status.value,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.updated_at),
        "node": info.node,
        "waiting_on": info.waiting_on,
        "variables": info.variables,
        "masked": sorted(info.masked),
        "output": info.output,
        "failure": None if info.failure is None else msgspec.to_builtins(info.failure),
        "threads": [
            {
                "number": thread.number,
                "name": thread.name,
                "kind": thread.kind,
                "parent": thread.parent,
                "status": thread.status.value,
                "node": thread.node,
                "waiting_on": thread.waiting_on,
                "attempt": thread.attempt,
            }
            for thread in info.threads
        ],
        "pending_events": list(info.pending_events),
    }
    if info.unreadable is not None:  # only then: a readable run's document is as it was
        document["unreadable"] = info.unreadable
    return document


def stuck_document(info: RunInfo) -> list[dict[str, Any]]:
    """Why a run is stuck (``wfc runs list --stuck``), as JSON-ready data."""
    return [
        {
            "kind": reason.kind,
            "since": iso(reason.since),
            "message": reason.message,
            "task": reason.task,
            "node": reason.node,
            "attempt": reason.attempt,
            "dispatch_id": reason.dispatch_id,
            "holder": reason.holder,
            "lease_expired_at": None if reason.lease_expired_at is None else iso(reason.lease_expired_at),
            "timer": reason.timer,
        }
        for reason in info.stuck
    ]


def history_document(entries: Sequence[HistoryEntry], threads: dict[int, str]) -> list[dict[str, Any]]:
    """Journal entries as JSON-ready data; ``threads`` names thread numbers."""
    return [
        {
            "seq": entry.seq,
            "timestamp": iso(entry.timestamp),
            "thread": entry.thread,
            "thread_name": threads.get(entry.thread),
            "node": entry.node,
            "kind": entry.kind,
            "attempt": entry.attempt,
            "detail": entry.detail,
        }
        for entry in entries
    ]


async def export_lines(
    engine: Engine, finished_before: dt.datetime | None, statuses: Sequence[str] | None
) -> AsyncIterator[str]:
    """The archive of finished runs, one JSON line per run with its journal
    (``{"run": ..., "journal": [...]}``), masked values as ``"***"``: what
    ``wfc runs export`` writes and ``GET /api/v1/retention/export`` streams,
    read one run at a time (see :meth:`Engine.export_runs`)."""
    from wfc.cli.run_views import thread_names

    async for info, journal in engine.export_runs(finished_before, statuses):
        document = {"run": run_document(info), "journal": history_document(journal, thread_names(info))}
        yield json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


def user_task_document(task: UserTask) -> dict[str, Any]:
    """A user task as JSON-ready data: the same document as the API's
    ``/api/v1/user-tasks`` gives (form values are shown as given)."""
    return {
        "id": task.id,
        "run_id": task.run_id,
        "workflow": task.workflow,
        "version": str(task.version),
        "thread": task.thread,
        "node": task.node,
        "form": {
            "name": task.form.name,
            "fields": [
                {
                    "name": field.name,
                    "type": field.type,
                    "required": field.required,
                    "display_name": field.display_name,
                    "description": field.description,
                }
                for field in task.form.fields
            ],
        },
        "status": task.status.value,
        "user": task.user,
        "group": task.group,
        "notes": task.notes,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "values": task.values,
        "completed_by": task.completed_by,
    }


def event_document(name: str, sent: SentEvent) -> dict[str, Any]:
    """What became of a sent event."""
    return {"event": name, "event_id": sent.event_id, "run_id": sent.run_id, "duplicate": sent.duplicate}


def iso(moment: dt.datetime) -> str:
    """An ISO 8601 UTC timestamp with milliseconds."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def print_json(document: Any) -> None:
    """Print one JSON document on standard output (no colours, no wrapping)."""
    output.echo(json.dumps(document, indent=2, ensure_ascii=False, default=_fallback), json=True)


def _fallback(value: Any) -> Any:
    # Values come from the store's JSON, so this is only a safety net for a
    # type json does not know (a datetime or a set in a record).
    return msgspec.to_builtins(value)
