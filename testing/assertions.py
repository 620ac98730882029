"""Assertions on what a run did, each failing with a unified diff that shows
what was expected against what the run's journal says."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from wfc.runtime import HistoryEntry, RunInfo


class WorkflowAssertionError(AssertionError):
    """A run did not do what the test expected; the message holds a unified
    diff from the expected lines to the actual ones."""


WorkflowAssertionError.__module__ = "wfc.testing"


def diff_message(title: str, expected: Sequence[str], actual: Sequence[str]) -> str:
    """``title`` and a unified diff (``-`` expected, ``+`` actual)."""
    lines = difflib.unified_diff(
        list(expected), list(actual), "expected", "actual", lineterm="", n=max(len(expected), len(actual))
    )
    return "\n".join([title, *lines])


def node_paths(history: Sequence[HistoryEntry]) -> dict[int, list[str]]:
    """The nodes each thread went through, in order (thread 0 is the
    entrypoint): the node of each journal entry of the thread, once per
    stay (a task's retries stay on its node). Compensations are left out:
    they have :func:`compensations`."""
    paths: dict[int, list[str]] = {}
    for entry in history:
        if entry.node is None or entry.kind.startswith("COMPENSATION_"):
            continue
        path = paths.setdefault(entry.thread, [])
        if entry.kind == "NODE_ENTERED" or not path or path[-1] != entry.node:
            path.append(entry.node)
    return paths


def compensations(history: Sequence[HistoryEntry]) -> list[str]:
    """The compensation tasks that completed, in the order they ran."""
    return [str(entry.detail.get("task", entry.node)) for entry in history if entry.kind == "COMPENSATION_COMPLETED"]


def journal_line(entry: HistoryEntry) -> str:
    """One journal entry as a line: ``KIND node`` (and ``[thread n]`` off the entrypoint)."""
    parts = [entry.kind]
    if entry.node is not None:
        parts.append(entry.node)
    if entry.thread:
        parts.append(f"[thread {entry.thread}]")
    return " ".join(parts)


def check_path(
    run_id: str, history: Sequence[HistoryEntry], expected: Sequence[str] | Mapping[int, Sequence[str]]
) -> None:
    """The nodes entered equal ``expected``: a list for the entrypoint
    thread, or a mapping of thread number to list for the threads named
    (the others are not compared)."""
    __tracebackhide__ = True
    paths = node_paths(history)
    if isinstance(expected, Mapping):
        want = {thread: list(nodes) for thread, nodes in sorted(expected.items())}
        got = {thread: paths.get(thread, []) for thread in want}
        if got != want:
            raise WorkflowAssertionError(
                diff_message(
                    f"run {run_id!r} took another path (threads: nodes entered)",
                    _thread_lines(want),
                    _thread_lines(got),
                )
            )
        return
    actual = paths.get(0, [])
    if actual != list(expected):
        raise WorkflowAssertionError(
            diff_message(
                f"run {run_id!r} took another path (nodes entered by the entrypoint thread)", list(expected), actual
            )
        )


def _thread_lines(paths: Mapping[int, Sequence[str]]) -> list[str]:
    return [f"thread {thread}: {node}" for thread in sorted(paths) for node in paths[thread]]


def check_compensations(run_id: str, history: Sequence[HistoryEntry], expected: Sequence[str]) -> None:
    """The compensations that ran are ``expected``, in this order."""
    __tracebackhide__ = True
    actual = compensations(history)
    if actual != list(expected):
        raise WorkflowAssertionError(
            diff_message(f"run {run_id!r} compensated otherwise (compensation tasks, in order)", list(expected), actual)
        )


def check_output(run_id: str, actual: Any, expected: Any) -> None:
    """The run's output equals ``expected``; the diff is of indented JSON."""
    __tracebackhide__ = True
    if actual != expected:
        raise WorkflowAssertionError(
            diff_message(f"run {run_id!r} has another output", _json_lines(expected), _json_lines(actual))
        )


def check_failure(info: RunInfo, name: str, node: str | None = None) -> None:
    """The run ended by failure ``name`` (at ``node``, if given): FAILED, or
    COMPENSATED when it undid its completed steps first. The diff is of the
    status, failure name and node (with the failure's message, for reading)."""
    __tracebackhide__ = True
    failure = info.failure
    status = info.status.value
    actual: dict[str, Any] = {"status": status, "failure": failure.name if failure else None}
    expected: dict[str, Any] = {
        "status": status if status in _FAILED else " or ".join(sorted(_FAILED)),
        "failure": name,
    }
    if node is not None:
        actual["node"] = failure.node if failure else None
        expected["node"] = node
    if actual != expected:
        if failure is not None and failure.message:
            actual["message"] = failure.message
        raise WorkflowAssertionError(
            diff_message(f"run {info.id!r} did not fail as expected", _json_lines(expected), _json_lines(actual))
        )


#: The statuses of a run that a failure ended.
_FAILED = frozenset({"FAILED", "COMPENSATED"})


def _json_lines(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()


def check_journal(run_id: str, history: Sequence[HistoryEntry], expected: Sequence[str]) -> None:
    """Each line of ``expected`` (``KIND`` or ``KIND node``, as
    :func:`journal_line` writes it, or its start) matches a journal entry,
    in this order; other entries may come between."""
    __tracebackhide__ = True
    lines = [journal_line(entry) for entry in history]
    at = 0
    for want in expected:
        found = next((i for i in range(at, len(lines)) if _matches(want, lines[i])), None)
        if found is None:
            raise WorkflowAssertionError(
                diff_message(
                    f"run {run_id!r}: no journal entry {want!r} after entry {at} "
                    "(expected entries in order, then the run's journal)",
                    list(expected),
                    lines,
                )
            )
        at = found + 1


def _matches(want: str, line: str) -> bool:
    return line == want or line.startswith(want + " ")
