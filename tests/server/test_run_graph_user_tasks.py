"""The run graph's node states for a user task: its node waits for a person
from the assignment to the completion, whatever happens to the task in
between (claims, releases, reassignments, reminders), and fails when the
task is cancelled."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wfc.runtime import HistoryEntry
from wfc.server._run_graph import NodeState, node_states

AT = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def entries(*kinds: tuple[str, str | None, dict[str, Any]]) -> list[HistoryEntry]:
    return [HistoryEntry(seq=i + 1, timestamp=AT, thread=0, node=node, kind=kind, attempt=None, detail=detail)
            for i, (kind, node, detail) in enumerate(kinds)]


OPENED = (("NODE_ENTERED", "approve", {"kind": "user_task"}),
          ("USER_TASK_ASSIGNED", "approve", {"user_task": "ut-1", "group": "finance", "status": "UNASSIGNED"}))


def test_an_open_user_task_waits_through_its_changes() -> None:
    journal = entries(*OPENED, ("USER_TASK_CLAIMED", "approve", {"user_task": "ut-1", "user": "ann", "by": "ann"}),
                      ("TASK_DISPATCHED", "approve", {"task": "remind"}),
                      ("USER_TASK_REMINDED", "approve", {"user_task": "ut-1", "task": "remind"}),
                      ("USER_TASK_RELEASED", "approve", {"user_task": "ut-1", "by": "ann"}))
    assert node_states(journal) == {0: {"approve": NodeState.WAITING}}


def test_a_completed_user_task_is_done_once_the_thread_moves_on() -> None:
    journal = entries(*OPENED, ("USER_TASK_COMPLETED", "approve", {"user_task": "ut-1", "by": "ann"}),
                      ("NODE_COMPLETED", "approve", {}), ("TASK_DISPATCHED", "book", {"task": "book"}))
    assert node_states(journal) == {0: {"approve": NodeState.DONE, "book": NodeState.RUNNING}}


def test_a_cancelled_user_task_fails_its_node() -> None:
    journal = entries(*OPENED, ("USER_TASK_CANCELLED", "approve", {"user_task": "ut-1", "reason": "no"}),
                      ("NODE_FAILED", "approve", {"error": "USER_TASK_CANCELLED"}))
    assert node_states(journal) == {0: {"approve": NodeState.FAILED}}
