"""Replaying a golden file: each recorded step's input applied to the state
recorded before it, and the result compared, as canonical text, with the
transition recorded for it.

A golden file (``<case>.json``) holds::

    {"case": ..., "about": ..., "spec": {...},
     "policies": {...}?, "limits": {...}?,
     "steps": [{"now": t, "begin": {"run_id": ..., "inputs": {...}}, "expect": E},
               {"now": t, "input": {"input": "task_completed", ...}, "expect": E},
               {"now": t, "crash": {"message": ..., "name": ...}, "expect": E}, ...]}

``E`` is the transition as builtins (``state``, ``effects``, ``journal``),
plus ``refusal`` (the reason or ``null``) for operator commands and user task
inputs (a user task's refusal is an object: kind, message, status, problems), or
``{"error": {"type", "message"}}`` when ``begin`` refused the inputs. Step
``n`` starts from the ``state`` recorded by step ``n - 1``, so every step is
a self-contained (state, input, now) -> transition check.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from golden.canon import Json, RunState, input_of, limits_of, plain, policies_of, spec_of, state_of, text
from wfc.runtime.interpreter import (
    Cancel,
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    Halt,
    Limits,
    ReassignUserTask,
    ReleaseUserTask,
    Resume,
    Retry,
    TaskPolicy,
    begin,
    crash,
    refusal,
    step,
    user_task_refusal,
)
from wfc.specs import WfcError, WorkflowSpec


def outcome(
    spec: WorkflowSpec,
    previous: RunState | None,
    record: Json,
    policies: Mapping[str, TaskPolicy] | None,
    limits: Limits | None,
) -> Json:
    """What the interpreter does now with one recorded step, as builtins."""
    now = record["now"]
    if "begin" in record:
        start = record["begin"]
        try:
            transition = begin(spec, start["run_id"], start["inputs"], now, policies, limits)
        except WfcError as exc:
            return {"error": {"type": type(exc).__name__, "message": str(exc)}}
        result: Json = plain(transition)
        return result
    if previous is None:
        raise ValueError("a step other than the first needs the state recorded before it")
    if "crash" in record:
        broken = record["crash"]
        result = plain(crash(previous, spec, broken["message"], now, broken["name"]))
        return result
    event = input_of(record["input"])
    result = plain(step(previous, spec, event, now, policies, limits))
    if isinstance(event, Cancel | Halt | Resume | Retry):
        result["refusal"] = refusal(previous, spec, event)
    elif isinstance(event, ClaimUserTask | ReleaseUserTask | ReassignUserTask | CompleteUserTask | CancelUserTask):
        result["refusal"] = plain(user_task_refusal(previous, spec, event))
    return result


def label(record: Json) -> str:
    """What a step feeds, for messages: ``begin``, ``crash`` or the input's tag."""
    if "begin" in record:
        return "begin"
    if "crash" in record:
        return "crash"
    return str(record["input"]["input"])


def mismatches(doc: Json, where: str, limit: int = 3) -> list[str]:
    """Unified diffs (expected -> actual) of the steps of ``doc`` the
    interpreter no longer reproduces exactly; empty when all match."""
    spec = spec_of(doc["spec"])
    policies, limits = policies_of(doc.get("policies")), limits_of(doc.get("limits"))
    steps: list[Json] = doc["steps"]
    found: list[str] = []
    for index, record in enumerate(steps):
        previous = state_of(steps[index - 1]["expect"]["state"]) if index else None
        expected, actual = text(record["expect"]), text(outcome(spec, previous, record, policies, limits))
        if expected != actual:
            name = f"{where} step {index} ({label(record)} at {record['now']})"
            found.append(diff(expected, actual, name))
            if len(found) >= limit:
                break
    return found


def diff(expected: str, actual: str, name: str) -> str:
    """A unified diff from the recorded text to what the interpreter gives now."""
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"{name}: recorded",
        tofile=f"{name}: interpreter now",
        n=4,
    )
    return "".join(lines)
