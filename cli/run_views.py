"""How runs and journal entries look on a terminal: status colours, times,
"where is it now", one-line summaries of journal entries, and the tables
``wfc run`` and ``wfc runs`` print.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from wfc.runtime import HistoryEntry, RunInfo, RunStatus

STATUS_STYLES = {
    RunStatus.RUNNING: "cyan",
    RunStatus.HALTED: "magenta",
    RunStatus.COMPLETED: "green",
    RunStatus.FAILED: "red",
    RunStatus.COMPENSATED: "red",
    RunStatus.CANCELLED: "yellow",
}


def status_text(status: RunStatus) -> Text:
    """The status, coloured."""
    return Text(status.value, style=f"bold {STATUS_STYLES.get(status, '')}".strip())


def shown_status(info: RunInfo, served: bool) -> Text:
    """The status to show: a RUNNING run that no live engine executes
    (``served`` false) is not running, it is ``WAITING FOR ENGINE``."""
    if waits_for_engine(info, served):
        return Text("WAITING FOR ENGINE", style="bold yellow")
    return status_text(info.status)


def waits_for_engine(info: RunInfo, served: bool) -> bool:
    """Whether the run is RUNNING but nothing executes it: no live engine
    serves its database (after ``wfc run --detach``, Ctrl-C, a crash)."""
    return not served and info.status is RunStatus.RUNNING


def engine_wait(info: RunInfo, *, short: bool = False) -> str:
    """``waiting for an engine (no step since 14:03:07)``: since when it has
    waited, as far as the database knows (its last step)."""
    since = short_time(info.updated_at) if short else local_time(info.updated_at)
    return f"waiting for an engine (no step since {since})"


def local_time(moment: dt.datetime, *, millis: bool = False) -> str:
    """A timestamp in the local time zone, ``2026-05-01 14:03:07`` (in UTC,
    marked so, for a moment the local zone would take past year 1 or 9999)."""
    zone = ""
    try:
        shown = moment.astimezone()
    except OverflowError:  # the local zone would take it past year 1 or 9999: shown in its own
        shown = moment
        zone = " UTC" if moment.utcoffset() == dt.timedelta(0) else moment.strftime(" %z")
    text = shown.strftime("%Y-%m-%d %H:%M:%S.%f")
    return (text[:-3] if millis else text[:-7]) + zone


def short_time(moment: dt.datetime) -> str:
    """A local timestamp as short as it can be: ``14:03:07`` today,
    ``05-01 14:03`` this year, ``2025-12-24 09:00`` before."""
    local, now = moment.astimezone(), dt.datetime.now().astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%m-%d %H:%M" if local.year == now.year else "%Y-%m-%d %H:%M")


def compact(value: Any, limit: int | None = None) -> str:
    """``value`` as one line of JSON, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def thread_names(info: RunInfo) -> dict[int, str]:
    """Thread number → a label for it: its spec name, with ``#number`` when
    several threads share that name."""
    counts: dict[str, int] = {}
    for thread in info.threads:
        counts[thread.name] = counts.get(thread.name, 0) + 1
    return {t.number: t.name if counts[t.name] == 1 else f"{t.name}#{t.number}" for t in info.threads}


def where_now(info: RunInfo, served: bool = True) -> str:
    """Where the run is: what its threads wait for, or the node it is at.
    ``served`` false: no live engine serves its database, so a dispatched
    attempt is not running, it waits for an engine to run it."""
    if info.unreadable is not None:
        return f"cannot be read: {info.unreadable}"
    info = info.redacted()
    if info.waiting_on:
        return "; ".join(_as_served(wait, info, served) for wait in info.waiting_on)
    if info.status.finished:
        return f"ended at {info.failure.node}" if info.failure is not None and info.failure.node else info.node
    return f"at {info.node}"


def _as_served(wait: str, info: RunInfo, served: bool) -> str:
    """A wait as the runtime describes it, true to whether an engine serves
    the run: an attempt dispatched while none does is not running."""
    if waits_for_engine(info, served):
        return wait.replace(", running)", ", to be run by an engine)")
    return wait


def where_brief(info: RunInfo) -> str:
    """Where the run is, for a table row: the node of each running thread and
    the kind of thing it waits for, ``charge-card (retry, attempt 2)``."""
    info = info.redacted()
    parts = []
    for thread in info.threads:
        if thread.waiting_on is None:
            continue
        kind = thread.waiting_on.split(" ", 1)[0]
        attempt = f", attempt {thread.attempt}" if thread.attempt is not None else ""
        parts.append(f"{thread.node} ({kind}{attempt})" if kind in _WAIT_KINDS else thread.node)
    return "; ".join(parts) if parts else where_now(info)


#: First words of the runtime's wait descriptions, kept in the brief form.
_WAIT_KINDS = frozenset({"task", "retry", "event", "timer", "threads"})


def describe_failure(info: RunInfo) -> str | None:
    """``name at node N (thread T): message``, when the run failed."""
    failure = info.redacted().failure
    if failure is None:
        return None
    at = f" at node {failure.node}" if failure.node else ""
    thread = f" (thread {failure.thread})" if failure.thread else ""
    message = f": {failure.message}" if failure.message else ""
    content = f" {compact(failure.content, 200)}" if failure.content is not None else ""
    return f"{failure.name}{at}{thread}{message}{content}"


def describe_entry(entry: HistoryEntry, limit: int | None = 70) -> str:
    """The gist of a journal entry's detail, on one short line."""
    detail = entry.detail
    match entry.kind:
        case "RUN_STARTED":
            text = f"version {detail.get('version', '?')}, inputs {compact(detail.get('inputs', {}))}"
        case "TASK_DISPATCHED":
            text = f"{detail.get('task', '')}({compact(detail.get('args', []))[1:-1]})"
        case "TASK_COMPLETED":
            text = compact(detail.get("output"))
        case "TASK_FAILED" | "NODE_FAILED" | "RUN_FAILED" | "THREAD_FAILED":
            text = f"{detail.get('error', '')}: {detail.get('message', '')}"
            if "retry_in" in detail:
                text = f"retry in {float(detail['retry_in']):.1f}s; {text}"
        case "EVENT_WAITING":
            text = f"event {detail.get('event')!r}"
            if detail.get("correlation") is not None:
                text += f", correlation {detail['correlation']!r}"
            if detail.get("timeout") is not None:
                text += f", timeout {float(detail['timeout']):g}s"
        case "SLEEPING" if isinstance(detail.get("until"), int | float):
            text = f"until {local_time(dt.datetime.fromtimestamp(detail['until'], tz=dt.UTC))}"
        case "EVENT_CONSUMED" | "EVENT_RECEIVED":
            text = f"{detail.get('event')!r}"
            if entry.kind == "EVENT_CONSUMED":
                text += f" {compact(detail.get('payload'))}"
        case "VARIABLE_SET":
            text = f"{detail.get('var')} {detail.get('op')} {compact(detail.get('value'))}"
        case "RUN_COMPLETED":
            text = f"output {compact(detail.get('output'))}"
        case "MIGRATED":
            text = describe_migration(detail)
        case "MIGRATION_PENDING":
            gates = "; ".join(f"thread {g.get('thread')} at {' or '.join(g.get('wait_until', []))}"
                              for g in detail.get("wait_until", []))  # fmt: skip
            text = f"moves to {detail.get('to', '?')} once {gates or 'it can'} (plan {str(detail.get('plan', ''))[:8]})"
        case "MIGRATION_DROPPED":
            text = f"move dropped: {'; '.join(detail.get('reasons', []))}"
        case kind if kind.startswith("USER_TASK_"):
            text = f"{detail.get('user_task', '')} {describe_user_task_entry(kind, detail)}".strip()
        case _:
            text = compact(detail) if detail else ""
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def describe_migration(detail: dict[str, Any]) -> str:
    """``1.0 -> 1.1 (plan 056b2a4f, automatically): thread 0 ship -> dispatch; channel = "web"``."""
    how = ", automatically" if detail.get("automatic") else ""
    text = f"{detail.get('from', '?')} -> {detail.get('to', '?')} (plan {str(detail.get('plan', ''))[:8]}{how})"
    moves = [f"thread {m.get('thread')} {m.get('from')} -> {m.get('to')}" for m in detail.get("threads", [])]
    values = [f"{name} = {compact(value)}" for name, value in (detail.get("variables") or {}).items()]
    return f"{text}: {'; '.join(moves + values)}" if moves or values else text


def describe_user_task_entry(kind: str, detail: dict[str, Any], *, by: bool = True) -> str:
    """What a ``USER_TASK_*`` journal entry says happened, and (``by``) who did it."""
    user, group = detail.get("user"), detail.get("group")
    to = ", ".join(part for part in (f"user {user}" if user else "", f"group {group}" if group else "") if part)
    match kind:
        case "USER_TASK_ASSIGNED":
            text = f"form {detail.get('form', '?')} for {to or 'nobody'}"
        case "USER_TASK_CLAIMED":
            text = f"claimed by {user}"
        case "USER_TASK_RELEASED":
            text = f"released to group {group}" if group else "released to its group"
        case "USER_TASK_REASSIGNED":
            text = f"reassigned to {to}"
        case "USER_TASK_REMINDED":
            text = f"reminder task {detail.get('task', '?')} dispatched"
        case "USER_TASK_COMPLETED":
            text = f"values {compact(detail.get('values'))}"
        case "USER_TASK_CANCELLED":
            text = f"cancelled: {detail.get('reason') or 'no reason given'}"
        case _:
            text = compact({k: v for k, v in detail.items() if k != "user_task"})
    if not by or kind == "USER_TASK_CLAIMED":
        return text
    if detail.get("by") is not None:
        text += f", by {detail['by']}"
    elif detail.get("timer"):
        text += ", by its timer"
    return text


def timeline_table(entries: Sequence[HistoryEntry], names: dict[int, str], start: dt.datetime) -> Table:
    """Journal entries one line each, timed from ``start`` (``+1.204s``),
    the detail cut to fit the terminal."""
    table = Table("time", "thread", "node", "kind", "attempt", "detail", box=None, padding=(0, 1))
    for column in table.columns[:-1]:
        column.no_wrap = True  # only the detail gives way on a narrow terminal
    for entry in entries:
        offset = (entry.timestamp - start).total_seconds()
        table.add_row(
            *map(Text, (f"+{offset:.3f}s", names.get(entry.thread, str(entry.thread)), entry.node or "", entry.kind)),
            Text("" if entry.attempt is None else str(entry.attempt)),
            Text(describe_entry(entry, 90), no_wrap=True, overflow="ellipsis"),
            style=_entry_style(entry.kind),
        )
    return table


def journal_table(entries: Sequence[HistoryEntry], names: dict[int, str], title: str = "") -> Table:
    """Journal entries with local times (``MM-DD`` added when the day changes
    from the first entry's); long details wrap. ``--json`` gives every field."""
    first_day = local_time(entries[0].timestamp)[:10] if entries else ""
    table = compact_table("seq", "time", "thread", "node", "kind", "attempt", "detail", title=title)
    for column in (*table.columns[:3], *table.columns[4:6]):
        column.no_wrap = True  # node and detail give way on a narrow terminal
    table.columns[-1].overflow = "fold"
    for entry in entries:
        stamp = local_time(entry.timestamp, millis=True)
        shown = stamp[11:] if stamp[:10] == first_day else f"{stamp[5:10]} {stamp[11:]}"
        cells = (
            str(entry.seq),
            shown,
            names.get(entry.thread, str(entry.thread)),
            entry.node or "",
            entry.kind,
            "" if entry.attempt is None else str(entry.attempt),
            describe_entry(entry, None),
        )
        table.add_row(*map(Text, cells), style=_entry_style(entry.kind))
    return table


def compact_table(*headers: str, title: str = "") -> Table:
    """A table with a rule under the header and no other borders: more room
    for the data on a narrow terminal."""
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
        title=title or None,
        title_justify="left",
        title_style="bold",
    )
    for header in headers:
        # Text, not str: a str is searched for ``:emoji:`` codes, which loads rich's table of them.
        table.add_column(header=Text(header))
    return table


def _entry_style(kind: str) -> str | None:
    if kind.endswith("FAILED") or kind in ("EVENT_TIMEOUT", "RUN_CANCELLED"):
        return "red"
    if kind.endswith("COMPLETED"):
        return "green"
    return None


def threads_table(info: RunInfo, served: bool = True) -> Table:
    """One row per thread: where it is and what it waits for."""
    info = info.redacted()
    table = compact_table("#", "thread", "kind", "status", "node", "waiting on", "attempt")
    for thread in info.threads:
        cells = (
            str(thread.number),
            thread.name,
            thread.kind,
            thread.status.value,
            thread.node,
            _as_served(thread.waiting_on or "", info, served),
            "" if thread.attempt is None else str(thread.attempt),
        )
        table.add_row(*map(Text, cells))
    return table


def variables_table(info: RunInfo) -> Table:
    """The run's variables, masked ones as ``***``."""
    table = Table.grid(padding=(0, 2))
    for name, value in sorted(info.redacted().variables.items()):
        table.add_row(Text(name, style="bold"), Text(compact(value)))
    return table


def run_details(info: RunInfo, served: bool = True) -> RenderableType:
    """Everything ``wfc runs show`` prints about a run, secrets as ``***``;
    ``served``: whether a live engine serves its database."""
    info = info.redacted()
    facts = Table.grid(padding=(0, 2))
    facts.add_row("workflow", Text(f"{info.workflow} {info.version}"))
    facts.add_row("status", shown_status(info, served))
    if waits_for_engine(info, served):
        facts.add_row("engine", Text(f"{engine_wait(info)}: no live engine serves this database", style="yellow"))
    facts.add_row("where", Text(where_now(info, served)))
    facts.add_row("started", local_time(info.created_at))
    facts.add_row("updated", local_time(info.updated_at))
    if info.status is RunStatus.COMPLETED:
        facts.add_row("output", Text(compact(info.output)))
    failure = describe_failure(info)
    if failure is not None:
        facts.add_row("failure", Text(failure, style="red"))
    if info.pending_events:
        facts.add_row("pending events", Text(", ".join(info.pending_events)))
    parts: list[RenderableType] = [Text(f"run {info.id}", style="bold"), facts, Text("variables", style="bold")]
    parts.append(variables_table(info) if info.variables else Text("  none"))
    parts += [Text("threads", style="bold"), threads_table(info, served)]
    return Group(*parts)
