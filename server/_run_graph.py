"""Where a run has been, node by node: the state of every node of every
thread of a run, read from its journal, for colouring the spec's graph."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import msgspec

from wfc.runtime import HistoryEntry


class NodeState(enum.Enum):
    DONE = "done"
    RUNNING = "running"
    WAITING = "waiting"
    FAILED = "failed"
    COMPENSATED = "compensated"


#: Entries that put a thread at a node (the node it was at before is done).
_ARRIVALS = {"NODE_ENTERED", "TASK_DISPATCHED", "EVENT_WAITING", "SLEEPING", "THREADS_WAITING", "USER_TASK_ASSIGNED"}
#: A user task waits for a person from its assignment to its completion
#: (claims, releases, reassignments and reminders change nothing here).
_WAITS = {"EVENT_WAITING", "SLEEPING", "THREADS_WAITING", "USER_TASK_ASSIGNED"}
_WAKE_UPS = {
    "EVENT_RECEIVED", "EVENT_CONSUMED", "TIMER_FIRED", "EVENT_TIMEOUT", "THREADS_COMPLETED", "USER_TASK_COMPLETED",
}
_THREAD_ENDS = {"THREAD_COMPLETED"}
#: Changes to an open user task: its node still waits for a person.
_STILL_WAITING = {"USER_TASK_CLAIMED", "USER_TASK_RELEASED", "USER_TASK_REASSIGNED", "USER_TASK_REMINDED"}


class ThreadNodes(msgspec.Struct, kw_only=True):
    """One thread of a run with the state of each node it reached (a node
    missing from ``states`` was not reached)."""

    number: int
    name: str
    parent: int | None
    states: dict[str, NodeState]


class RunNodes(msgspec.Struct, kw_only=True):
    """Where a run has been: every thread with the states of its nodes."""

    run_id: str
    workflow: str
    version: str
    threads: list[ThreadNodes]


def node_states(entries: Iterable[HistoryEntry]) -> dict[int, dict[str, NodeState]]:
    """Per thread number, the state of every node the thread reached."""
    states: dict[int, dict[str, NodeState]] = {}
    current: dict[int, str] = {}
    for entry in entries:
        thread = states.setdefault(entry.thread, {})
        node = entry.node
        if entry.kind in _THREAD_ENDS and entry.thread in current:
            _leave(thread, current.pop(entry.thread))
        if entry.kind == "MIGRATED":
            _migrated(states, current, entry.detail.get("threads", []))
        if node is None:
            continue
        if entry.kind in _ARRIVALS:
            if current.get(entry.thread) not in (None, node):
                _leave(thread, current[entry.thread])
            current[entry.thread] = node
            thread[node] = NodeState.WAITING if _waits(entry) else NodeState.RUNNING
        elif entry.kind in _WAKE_UPS:
            thread[node] = NodeState.RUNNING
        elif entry.kind in _STILL_WAITING:
            thread[node] = NodeState.WAITING
        elif entry.kind == "NODE_FAILED":
            thread[node] = NodeState.FAILED
        elif entry.kind == "COMPENSATION_COMPLETED":
            thread[node] = NodeState.COMPENSATED
        elif entry.kind == "COMPENSATION_FAILED":
            thread[node] = NodeState.FAILED
    return states


def _waits(entry: HistoryEntry) -> bool:
    if entry.kind in _WAITS:
        return True
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    waiting_kinds = ("sleep", "sleep_until", "wait_for_event", "user_task")
    return entry.kind == "NODE_ENTERED" and detail.get("kind") in waiting_kinds


def _migrated(states: dict[int, dict[str, NodeState]], current: dict[int, str], moves: list[dict[str, Any]]) -> None:
    """A run moved to another version: each moved thread is now where its
    node's state carries over to (the graph drawn is the new version's)."""
    for move in moves:
        number, source, target = move.get("thread"), move.get("from"), move.get("to")
        if not isinstance(number, int) or not isinstance(source, str) or not isinstance(target, str):
            continue
        thread = states.setdefault(number, {})
        if source in thread:
            thread[target] = thread.pop(source)
        if current.get(number) == source:
            current[number] = target


def _leave(thread: dict[str, NodeState], node: str) -> None:
    if thread.get(node) in (NodeState.RUNNING, NodeState.WAITING):
        thread[node] = NodeState.DONE
