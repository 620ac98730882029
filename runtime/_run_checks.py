"""Checks the engine makes on what callers send to an existing run: whether a
repeated start is the same start, and whether a run can ever take an event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from wfc.runtime.errors import RunInputsConflictError, UnexpectedEventError
from wfc.runtime.interpreter import derive_spec_info
from wfc.runtime.state import RunState
from wfc.specs import WaitForEventNode, WorkflowSpec

_CANONICAL = msgspec.json.Encoder(order="sorted")


def input_digests(run_id: str, variables: Mapping[str, Any]) -> dict[str, str]:
    """A digest of each input a run starts with (after defaults), by name.

    A repeated start compares digests, not values, so the run state does not
    hold a second copy of every input, masked ones included. The run id and
    the name are hashed in so that equal secrets give unequal digests.
    """
    return {name: _digest(run_id, name, value) for name, value in variables.items()}


def _digest(run_id: str, name: str, value: Any) -> str:
    hasher = hashlib.sha256()
    for part in (run_id.encode(), name.encode(), _CANONICAL.encode(value)):
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.hexdigest()


def check_same_inputs(state: RunState, spec: WorkflowSpec, variables: Mapping[str, Any]) -> None:
    """Refuse a start whose inputs (after defaults) differ from those run
    ``state`` started with.

    A run stored before wfc kept input digests has none: it cannot be
    compared, and a repeated start returns it as before. A run that forgot
    its secrets (it can never move again) has no digests of masked inputs,
    so those are not compared.

    Raises:
        RunInputsConflictError: naming every differing input (names only).
    """
    if not state.input_digests:
        return
    masked = derive_spec_info(spec).masked
    stored = state.input_digests
    given = input_digests(state.id, variables)
    differing = [
        name
        for name in given.keys() | stored.keys()
        # A finished run forgot its secrets, digests included: those cannot be compared.
        if (name in stored or name not in masked) and given.get(name) != stored.get(name)
    ]
    if differing:
        raise RunInputsConflictError(state.id, state.workflow, differing, sorted(masked))


def awaited_events(spec: WorkflowSpec) -> frozenset[str]:
    """Every event name a run of ``spec`` can take: the events of its
    ``wait_for_event`` nodes and of its interrupt handlers, in every thread."""
    names: set[str] = set()
    for thread in spec.threads.values():
        names.update(node.event for node in thread.nodes.values() if isinstance(node, WaitForEventNode))
        names.update(interrupt.event for interrupt in thread.interrupts)
    return frozenset(names)


def check_event_awaited(state: RunState, spec: WorkflowSpec, event: str) -> None:
    """Refuse an event that run ``state`` could never take.

    Raises:
        UnexpectedEventError: listing the names the workflow does wait for.
    """
    expected = awaited_events(spec)
    if event not in expected:
        raise UnexpectedEventError(state.id, state.workflow, event, sorted(expected))
