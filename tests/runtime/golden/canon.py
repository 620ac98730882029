"""The canonical JSON of golden files, and reading their parts back.

One encoding for everything a golden file holds, so equal values give equal
text on every machine: builtins through msgspec with every dict key a string,
keys sorted, two-space indent, floats as Python's shortest round-trip repr,
non-ASCII kept readable. Comparing two transitions is comparing two texts,
and a mismatch is a readable line diff.

This module is the one place that names the run state's codec: if the state
moves, only the import below changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from wfc.runtime.interpreter import Input, Limits, TaskPolicy
from wfc.runtime.interpreter.state import RunState, decode_state
from wfc.specs import WorkflowSpec, dumps, loads_deployed

Json = dict[str, Any]

__all__ = [
    "Json",
    "RunState",
    "input_of",
    "limits_of",
    "plain",
    "policies_of",
    "spec_of",
    "spec_plain",
    "state_of",
    "text",
]


def plain(value: Any) -> Any:
    """``value`` (Structs, enums, dicts with int keys ...) as JSON builtins
    whose dict keys are all strings (so they sort the same before and after
    a round trip through a file)."""
    return msgspec.to_builtins(value, str_keys=True)


def text(value: Any) -> str:
    """Canonical JSON text of builtins, with a trailing newline."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def spec_plain(spec: WorkflowSpec) -> Json:
    """A spec as builtins, exactly as ``wfc compile`` writes it."""
    data: Json = json.loads(dumps(spec))
    return data


def spec_of(data: Json) -> WorkflowSpec:
    """The spec stored in a golden file (decoded as the engine decodes a
    deployed spec: shape checked, not re-validated)."""
    return loads_deployed(json.dumps(data))


def state_of(data: Json) -> RunState:
    """A run state stored in a golden file."""
    return decode_state(msgspec.json.encode(data))


def input_of(data: Json) -> Input:
    """An interpreter input stored in a golden file (tagged on ``input``)."""
    return msgspec.convert(data, Input)  # type: ignore[arg-type]


def policies_of(data: Mapping[str, Json] | None) -> dict[str, TaskPolicy] | None:
    """Task policies stored in a golden file, ``None`` when it has none."""
    return None if data is None else msgspec.convert(data, dict[str, TaskPolicy])


def limits_of(data: Json | None) -> Limits | None:
    """Engine limits stored in a golden file, ``None`` for the defaults."""
    return None if data is None else msgspec.convert(data, Limits)
