"""How user tasks look on a terminal: the inbox table of ``wfc tasks list``,
everything ``wfc tasks show`` prints (the form and the audit trail), and the
one line a change prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from wfc.cli.run_views import compact, compact_table, describe_user_task_entry, local_time

if TYPE_CHECKING:
    from wfc.runtime import HistoryEntry, UserTask

STATUS_STYLES = {"UNASSIGNED": "cyan", "ASSIGNED": "blue", "DONE": "green", "CANCELLED": "yellow"}


def task_status_text(status: str) -> Text:
    """The status, coloured."""
    return Text(status, style=f"bold {STATUS_STYLES.get(status, '')}".strip())


def who(task: UserTask) -> str:
    """Whom the task is for: ``ann (group support)``, ``group support``."""
    if task.user and task.group:
        return f"{task.user} (group {task.group})"
    if task.user:
        return task.user
    return f"group {task.group}" if task.group else "nobody"


def age(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """How long ago ``moment`` was, in its two largest units: ``3d 4h``, ``5m 12s``."""
    seconds = max(0, int(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def tasks_table(tasks: Sequence[UserTask]) -> Table:
    """One row per task, oldest first: what a person's inbox holds. Only the
    id never wraps (it is copied from here); ``wfc tasks show`` has the rest."""
    table = compact_table("id", "status", "form", "user", "group", "run", "age")
    table.columns[0].no_wrap = True
    table.columns[1].no_wrap = True
    for column in table.columns[2:]:
        column.overflow = "fold"
    now = dt.datetime.now(dt.UTC)
    for task in tasks:
        table.add_row(
            Text(task.id),
            task_status_text(task.status.value),
            Text(task.form.name),
            Text(task.user or ""),
            Text(task.group or ""),
            Text(task.run_id),
            Text(age(task.created_at, now)),
        )
    return table


def form_table(task: UserTask) -> Table:
    """The form's fields in order, with the values once it is DONE."""
    headers = ["field", "type", "required", "label", "description"]
    done = task.values is not None
    table = compact_table(*headers, *(["value"] if done else []))
    table.columns[-1].overflow = "fold"
    for field in task.form.fields:
        cells = [
            field.name,
            field.type,
            "yes" if field.required else "no",
            field.display_name or "",
            field.description,
        ]
        if task.values is not None:
            cells.append(compact(task.values.get(field.name)))
        table.add_row(*map(Text, cells))
    return table


def audit_table(entries: Sequence[HistoryEntry], names: dict[int, str]) -> Table:
    """The journal entries naming the task: what happened, by whom, when."""
    table = compact_table("seq", "time", "thread", "kind", "by", "detail")
    for column in table.columns[:-1]:
        column.no_wrap = True
    table.columns[-1].overflow = "fold"
    for entry in entries:
        by = entry.detail.get("by")
        cells = (
            str(entry.seq),
            local_time(entry.timestamp, millis=True),
            names.get(entry.thread, str(entry.thread)),
            entry.kind,
            str(by) if by is not None else ("timer" if entry.detail.get("timer") else ""),
            describe_user_task_entry(entry.kind, entry.detail, by=False) if entry.kind.startswith("USER_TASK_") else
            compact({k: v for k, v in entry.detail.items() if k != "user_task"}),
        )
        table.add_row(*map(Text, cells), style="green" if entry.kind == "USER_TASK_COMPLETED" else None)
    return table


def task_details(task: UserTask, audit: Sequence[HistoryEntry], names: dict[int, str]) -> RenderableType:
    """Everything ``wfc tasks show`` prints about a task."""
    facts = Table.grid(padding=(0, 2))
    facts.add_row("status", Text.assemble(task_status_text(task.status.value), f"  {_standing(task)}"))
    facts.add_row("run", Text(f"{task.run_id} ({task.workflow} {task.version}), thread "
                              f"{names.get(task.thread, str(task.thread))}, node {task.node}"))
    facts.add_row("created", local_time(task.created_at))
    facts.add_row("updated", local_time(task.updated_at))
    if task.notes:
        facts.add_row("notes", Text(task.notes))
    parts: list[RenderableType] = [
        Text(f"user task {task.id} (form {task.form.name})", style="bold"),
        facts,
        Text(f"form {task.form.name}", style="bold"),
        form_table(task) if task.form.fields else Text("  no fields"),
        Text("audit trail", style="bold"),
        audit_table(audit, names) if audit else Text("  nothing recorded"),
    ]
    return Group(*parts)


def _standing(task: UserTask) -> str:
    """Who has it, or who did it."""
    match task.status.value:
        case "ASSIGNED" | "UNASSIGNED":
            return f"for {who(task)}"
        case "DONE":
            return f"completed by {task.completed_by or 'an operator'}"
    return f"was for {who(task)}"


def change_line(verb: str, task: UserTask) -> Text:
    """``claimed user task ut-1 (form review, run r-1): now ASSIGNED to ann``."""
    return Text.assemble(
        f"{verb} user task {task.id} (form {task.form.name}, run {task.run_id}): now ",
        task_status_text(task.status.value),
        f", {_standing(task)}",
    )
