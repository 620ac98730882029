"""Shared fixtures of the wfc.specs tests: a small valid spec document and a
helper that loads a document and returns the SpecError it raises."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from wfc.specs import SpecError, loads

VALID_DOC: dict[str, Any] = {
    "schema": "wfc/2",
    "name": "checkout",
    "version": {"major": 1, "revision": 0},
    "entrypoint": "main",
    "variables": {
        "order-id": {"type": "str", "required": True},
        "amount": {"type": "float", "required": True},
        "attempts": {"type": "int", "default": 0},
    },
    "threads": {
        "main": {
            "nodes": {
                "entrypoint": {"kind": "entrypoint", "edges": [{"to": "charge-card"}]},
                "charge-card": {
                    "kind": "task",
                    "task": "charge-card",
                    "retries": 3,
                    "timeout": 30.0,
                    "args": [
                        {"kind": "var", "name": "order-id"},
                        {"kind": "var", "name": "amount"},
                    ],
                    "handlers": [{"on": "error", "thread": "on-error"}],
                    "edges": [
                        {
                            "to": "spawn-ship",
                            "when": {
                                "kind": "binary",
                                "op": ">",
                                "left": {"kind": "var", "name": "amount"},
                                "right": {"kind": "literal", "value": 100},
                            },
                            "mutations": [
                                {
                                    "var": "attempts",
                                    "op": "add",
                                    "value": {"kind": "literal", "value": 1},
                                }
                            ],
                        },
                        {"to": "spawn-ship"},
                    ],
                },
                "spawn-ship": {
                    "kind": "spawn_thread",
                    "thread": "ship",
                    "inputs": {"order-id": {"kind": "var", "name": "order-id"}},
                    "edges": [{"to": "wait-ship"}],
                },
                "wait-ship": {
                    "kind": "wait_for_threads",
                    "threads": ["spawn-ship"],
                    "edges": [{"to": "exit"}],
                },
                "exit": {
                    "kind": "exit",
                    "edges": [],
                    "output": {"kind": "output", "node": "charge-card", "path": ["payment_id"]},
                },
            },
            "interrupts": [{"event": "cancel", "thread": "on-error"}],
        },
        "ship": {
            "nodes": {
                "entrypoint": {"kind": "entrypoint", "edges": [{"to": "exit"}]},
                "exit": {"kind": "exit", "edges": []},
            },
            "variables": {"tracking": {"type": "str"}},
        },
        "on-error": {
            "nodes": {
                "entrypoint": {"kind": "entrypoint", "edges": [{"to": "exit"}]},
                "exit": {"kind": "exit", "edges": []},
            }
        },
    },
}


def encode(doc: Any) -> bytes:
    """JSON-encode a document the way a file on disk would hold it."""
    return json.dumps(doc).encode()


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh, mutable copy of a valid spec document."""
    return copy.deepcopy(VALID_DOC)


@pytest.fixture
def spec_error() -> Callable[[Any], SpecError]:
    """Load a document (dict, str or bytes) and return the SpecError it raises."""

    def load(document: Any) -> SpecError:
        data = document if isinstance(document, str | bytes) else encode(document)
        with pytest.raises(SpecError) as info:
            loads(data)
        return info.value

    return load
