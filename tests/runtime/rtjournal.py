"""Rebuild a run from its journal: the inputs each committed step applied are
read back from the journal entries (with event payloads from the stored
events) by :mod:`wfc.runtime._journal_inputs`, which says how and what the
journal does not hold; they are re-applied with ``begin``/``step``, and each
step must write exactly the entries that follow in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wfc.runtime._journal_inputs import FIELDS, JournalMismatch, entry_dict, input_for, step_starter
from wfc.runtime.interpreter import Limits, TaskPolicy, Transition, begin, crash, step
from wfc.runtime.interpreter.state import RunState
from wfc.specs import WorkflowSpec

__all__ = ["FIELDS", "JournalMismatch", "Replayed", "entry_dict", "input_for", "replay_journal"]


@dataclass
class Replayed:
    """The rebuilt run and the inputs that rebuilt it, in order."""

    state: RunState
    inputs: list[tuple[float, str]]
    """(now, kind of input) per replayed step."""


def replay_journal(
    spec: WorkflowSpec,
    run_id: str,
    journal: list[dict[str, Any]],
    payloads: Mapping[str, Any],
    policies: Mapping[str, TaskPolicy] | None = None,
    limits: Limits | None = None,
) -> Replayed:
    """Rebuild run ``run_id`` from its ``journal`` (entries as dicts with
    every field of :data:`FIELDS`) and the payloads of its events by id."""
    first = journal[0]
    if first["kind"] != "RUN_STARTED":
        raise JournalMismatch(f"a journal starts with RUN_STARTED, not {first['kind']}")
    transition = begin(spec, run_id, first["detail"].get("inputs", {}), first["at"], policies, limits)
    done = _check(transition, journal, 0, "begin")
    replayed = Replayed(transition.state, [(first["at"], "begin")])
    while done < len(journal):
        entry = step_starter(journal, done)
        state = replayed.state
        if entry["kind"] == "RUN_FAILED":
            detail = entry["detail"]
            transition = crash(
                state, spec, detail.get("message", ""), entry["at"], detail.get("error", "INTERNAL_ERROR")
            )
            what = "crash"
        else:
            event = input_for(state, entry, payloads, spec)
            transition = step(state, spec, event, entry["at"], policies, limits)
            what = type(event).__name__
        done = _check(transition, journal, done, what)
        replayed.state = transition.state
        replayed.inputs.append((entry["at"], what))
    return replayed


def _check(transition: Transition, journal: list[dict[str, Any]], start: int, what: str) -> int:
    written = [entry_dict(e) for e in transition.journal]
    stored = journal[start : start + len(written)]
    if not written or written != stored:
        raise JournalMismatch(f"replaying {what} at entry {start + 1} wrote {written}, the journal holds {stored}")
    return start + len(written)
