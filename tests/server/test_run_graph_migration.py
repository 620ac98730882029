"""The run graph of a run moved to another version (``wfc migrate apply``):
the node a thread waited at carries its state to the node of the new
version the thread moved to, and the thread goes on from there."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wfc.runtime import HistoryEntry
from wfc.server._run_graph import NodeState, node_states

AT = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def entries(*kinds: tuple[str, str | None, dict[str, Any]]) -> list[HistoryEntry]:
    return [HistoryEntry(seq=i + 1, timestamp=AT, thread=0, node=node, kind=kind, attempt=None, detail=detail)
            for i, (kind, node, detail) in enumerate(kinds)]  # fmt: skip


def test_a_moved_thread_waits_at_its_new_node_and_leaves_it_when_it_goes_on() -> None:
    journal = entries(
        ("TASK_DISPATCHED", "charge", {"task": "charge"}),
        ("EVENT_WAITING", "wait-ok", {"event": "ok"}),
        ("MIGRATED", None, {"from": "1.0", "to": "1.1", "threads": [{"thread": 0, "from": "wait-ok", "to": "wait"}]}),
    )
    assert node_states(journal) == {0: {"charge": NodeState.DONE, "wait": NodeState.WAITING}}
    journal += entries(("EVENT_RECEIVED", "wait", {"event": "ok"}), ("TASK_DISPATCHED", "ship", {"task": "ship"}))
    assert node_states(journal) == {0: {"charge": NodeState.DONE, "wait": NodeState.DONE, "ship": NodeState.RUNNING}}


def test_a_migration_without_moves_changes_no_state() -> None:
    journal = entries(("EVENT_WAITING", "wait", {"event": "ok"}), ("MIGRATED", None, {"threads": []}))
    assert node_states(journal) == {0: {"wait": NodeState.WAITING}}
