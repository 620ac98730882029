"""Versions of the spec format, and how a spec in an older one is read and written.

A spec names its format in ``schema``. The compiler always writes
:data:`~wfc.specs.workflow.SCHEMA_ID`; this wfc also reads every format in
:data:`SCHEMA_IDS`, so specs already deployed in a database, and spec files
compiled by an older wfc, keep working. Formats so far:

- ``wfc/1``: a task node always has ``retries``, and ``retries: 0`` means
  *unset*: the ``@task(retries=...)`` default applies. An author could not
  turn retries off for a task whose default is above 0.
- ``wfc/2``: ``retries`` is omitted when unset (``None`` in Python), and
  ``0`` means no retries.

A spec keeps the format it was written in, so a stored spec never changes
meaning and never changes hash: a ``wfc/1`` document is decoded into the same
types with its ``retries: 0`` read as ``None`` (unset, as it always meant),
and :func:`~wfc.specs.codec.dumps` writes such a spec back in ``wfc/1`` form,
byte for byte what the older wfc wrote. ``retries: 0`` meaning "no retries"
cannot be written in ``wfc/1``, so :func:`~wfc.specs.validation.validate`
refuses it there. A format newer than this wfc knows is refused, never guessed.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from wfc.specs.nodes import Node, TaskNode
from wfc.specs.workflow import SCHEMA_ID, ThreadSpec, WorkflowSpec

#: The ``wfc/1`` format, where a task's ``retries: 0`` meant "unset".
SCHEMA_WFC_1: Final = "wfc/1"

#: Every format this wfc reads, oldest first; the last is the one it writes.
SCHEMA_IDS: Final = (SCHEMA_WFC_1, SCHEMA_ID)

_WFC_SCHEMA = re.compile(r"wfc/(\d+)")


def schema_problem(schema: str) -> str | None:
    """Why a spec in format ``schema`` cannot be read, or ``None`` if it can."""
    if schema in SCHEMA_IDS:
        return None
    match = _WFC_SCHEMA.fullmatch(schema)
    if match and int(match.group(1)) > int(SCHEMA_ID.split("/")[1]):
        advice = "it was written by a newer wfc: upgrade wfc to read it"
    else:
        advice = "this is not a wfc spec format; write specs with `wfc compile`"
    readable = " and ".join(repr(known) for known in SCHEMA_IDS)
    return f"unsupported schema {schema!r}; this wfc reads {readable}, and {advice}"


def read_format(spec: WorkflowSpec) -> WorkflowSpec:
    """``spec`` as decoded, with what its format meant made explicit: in a
    ``wfc/1`` spec a task's ``retries: 0`` becomes ``None`` (unset)."""
    if spec.schema != SCHEMA_WFC_1:
        return spec
    threads = {name: _unset_zero_retries(thread) for name, thread in spec.threads.items()}
    if all(threads[name] is thread for name, thread in spec.threads.items()):
        return spec
    return msgspec.structs.replace(spec, threads=threads)


def _unset_zero_retries(thread: ThreadSpec) -> ThreadSpec:
    nodes: dict[str, Node] = {}
    changed = False
    for node_id, node in thread.nodes.items():
        if isinstance(node, TaskNode) and node.retries == 0:
            node = msgspec.structs.replace(node, retries=None)
            changed = True
        nodes[node_id] = node
    return msgspec.structs.replace(thread, nodes=nodes) if changed else thread


def written_form(spec: WorkflowSpec) -> WorkflowSpec | dict[str, Any]:
    """What :func:`~wfc.specs.codec.dumps` encodes for ``spec``: the spec
    itself in the current format; for a ``wfc/1`` spec, its builtins with
    every task's ``retries`` written out, unset as ``0``, as ``wfc/1`` did."""
    if spec.schema != SCHEMA_WFC_1:
        return spec
    document: dict[str, Any] = msgspec.to_builtins(spec)
    for thread in document["threads"].values():
        for node in thread["nodes"].values():
            if node["kind"] == "task":
                node.setdefault("retries", 0)
    return document
