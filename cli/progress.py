"""Live progress of a run while ``wfc run`` follows it.

The display is driven by :meth:`Engine.watch`: each journal entry updates it
with the run as stored then. On a terminal it is a :class:`rich.live.Live`
panel (current node, attempt and what each thread waits for, the latest
entries), cleared when the run ends so the summary takes its place.
Elsewhere (a pipe, a CI log) only the moments that can take long are printed,
one plain line each: a failed attempt waiting for its retry, a wait for an
event, a sleep.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from types import TracebackType
from typing import Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wfc.cli.run_views import describe_entry, status_text, thread_names, timeline_table
from wfc.runtime import Engine, HistoryEntry, RunInfo


class ProgressView(Protocol):
    """Shows a run's progress; a context manager around the following."""

    def update(self, entry: HistoryEntry, info: RunInfo) -> None:
        """Show that ``entry`` happened; ``info`` is the run as stored now."""

    def __enter__(self) -> ProgressView: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def progress_view(console: Console, info: RunInfo) -> ProgressView:
    """The live panel on a terminal, plain lines otherwise."""
    return LiveProgress(console, info) if console.is_terminal else PlainProgress(console, info)


async def follow(engine: Engine, run_id: str, view: ProgressView, after: int = 0) -> None:
    """Feed ``view`` the run's journal entries after seq ``after`` until the
    run finishes."""
    async for entry in engine.watch(run_id, after=after):
        view.update(entry, (await engine.get_run(run_id)).redacted())  # views show no secret


class LiveProgress:
    """A rich live panel: the run's status, its threads, the latest entries."""

    def __init__(self, console: Console, info: RunInfo, recent: int = 6) -> None:
        self._info = info
        self._recent: deque[HistoryEntry] = deque(maxlen=recent)
        self._live = Live(self, console=console, transient=True, refresh_per_second=8)

    def update(self, entry: HistoryEntry, info: RunInfo) -> None:
        """Remember the entry and the run; the panel redraws itself."""
        self._recent.append(entry)
        self._info = info

    def __rich__(self) -> RenderableType:
        info = self._info
        elapsed = (dt.datetime.now(dt.UTC) - info.created_at).total_seconds()
        header = Text.assemble(
            ("run ", "dim"),
            info.id,
            ("  ", ""),
            f"{info.workflow} {info.version}",
            "  ",
            status_text(info.status),
            (f"  {elapsed:.1f}s", "dim"),
        )
        threads = Table("thread", "node", "attempt", "doing", box=None, padding=(0, 1), header_style="dim")
        for thread in info.threads:
            doing = thread.waiting_on or thread.status.value.lower()
            attempt = "" if thread.attempt is None else str(thread.attempt)
            threads.add_row(Text(thread.name), Text(thread.node), Text(attempt), Text(doing))
        recent = timeline_table(list(self._recent), thread_names(info), info.created_at)
        return Group(header, threads, Text("latest", style="dim"), recent)

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._live.stop()


class PlainProgress:
    """One line per slow moment (a retry pending, an event awaited, a sleep)."""

    def __init__(self, console: Console, info: RunInfo) -> None:
        self._console = console
        self._start = info.created_at

    def update(self, entry: HistoryEntry, info: RunInfo) -> None:
        """Print the entry if it explains a pause."""
        detail = entry.detail
        match entry.kind:
            case "TASK_FAILED" if "retry_in" in detail:
                what = (
                    f"attempt {entry.attempt} failed ({detail.get('error')}: {detail.get('message')}); "
                    f"retry in {float(detail['retry_in']):.1f}s"
                )
            case "EVENT_WAITING" | "SLEEPING":
                what = describe_entry(entry, None)
                what = f"waiting for {what}" if entry.kind == "EVENT_WAITING" else f"sleeping {what}"
            case _:
                return
        offset = (entry.timestamp - self._start).total_seconds()
        thread = thread_names(info).get(entry.thread, str(entry.thread))
        self._console.print(Text(f"  +{offset:.3f}s {thread}@{entry.node}: {what}"), soft_wrap=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None
