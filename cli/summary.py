"""What ``wfc run`` prints when it stops following a run: the status, the
output or the failure, and a short timeline; or, when it stopped early (a
timeout, Ctrl-C), where the run is and how to look at it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from wfc.cli.engine_access import is_private_database, wfc_command
from wfc.cli.run_views import describe_failure, status_text, thread_names, timeline_table, where_now
from wfc.runtime import HistoryEntry, RunInfo, RunStatus

#: Journal kinds left out of the timeline: the steps between the steps.
QUIET_KINDS = frozenset({"NODE_ENTERED", "TASK_DISPATCHED", "TASK_CLAIMED"})
#: Most timeline rows shown; ``wfc runs history`` has them all.
TIMELINE_ROWS = 20


def print_summary(console: Console, info: RunInfo, entries: Sequence[HistoryEntry], url: str) -> None:
    """The end of ``wfc run``: status, output or failure, timeline; secrets as ``***``."""
    info = info.redacted()
    elapsed = (info.updated_at - info.created_at).total_seconds()
    console.print(
        Text.assemble(
            ("run ", "bold"),
            (info.id, "bold"),
            f" ({info.workflow} {info.version}): ",
            status_text(info.status),
            f" in {elapsed:.2f}s",
        )
    )
    if info.status is RunStatus.COMPLETED:
        console.print(Text.assemble(("output: ", "bold"), _json(info.output)), soft_wrap=True)
    failure = describe_failure(info)
    if failure is not None:
        console.print(Text.assemble(("failure: ", "bold red"), (failure, "red")), soft_wrap=True)
    if not info.status.finished:
        console.print(Text.assemble(("where: ", "bold"), where_now(info)), soft_wrap=True)
    shown = [entry for entry in entries if entry.kind not in QUIET_KINDS]
    console.print(Text("timeline", style="bold"))
    if len(shown) > TIMELINE_ROWS:
        console.print(Text(f"  … {len(shown) - TIMELINE_ROWS} earlier entries", style="dim"))
        shown = shown[-TIMELINE_ROWS:]
    console.print(timeline_table(shown, thread_names(info), info.created_at))
    if not is_private_database(url):  # gone with this process: no command can read it again
        history = wfc_command("runs", "history", info.id, url=url)
        console.print(Text(f"full journal: {history}", style="dim"), soft_wrap=True)


def where_message(info: RunInfo, why: str, url: str, resume: str) -> str:
    """One paragraph for a run that is still going when ``wfc run`` stops
    following it: where it is, that it is safe, and how to see it again."""
    info = info.redacted()
    return (
        f"{why}: run {info.id} ({info.workflow} {info.version}) is {info.status.value}, {where_now(info)}. "
        f"It is stored in the database and continues when an engine serving it runs (e.g. `{resume}`); "
        f"check it with `{wfc_command('runs', 'show', info.id, url=url)}`"
    )


def _json(value: object) -> str:
    if isinstance(value, dict | list) and value:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return json.dumps(value, ensure_ascii=False, default=str)
