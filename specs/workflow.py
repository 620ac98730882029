"""The top of a spec: variables, threads, versions and the workflow itself."""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from wfc.specs.forms import FormDef
from wfc.specs.nodes import Node

#: Format id the compiler writes; bumped only for an incompatible format.
#: :mod:`wfc.specs.formats` lists the formats this wfc still reads.
SCHEMA_ID: Final = "wfc/2"

VarType = Literal["str", "int", "float", "bool", "json"]
VAR_TYPES: tuple[VarType, ...] = ("str", "int", "float", "bool", "json")


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    pass


class VariableDef(_Spec, frozen=True):
    """A declared variable."""

    type: VarType
    required: bool = False
    """A run (or child thread) cannot start without a value for it."""
    default: Any = None
    """Value when none is given; ``null`` means no default."""
    masked: bool = False
    """Hidden in history, logs and the CLI."""
    searchable: bool = False
    """Indexed so runs can be listed by its value."""


class InterruptDef(_Spec, frozen=True):
    """Runs ``thread`` when ``event`` arrives, pausing the interrupted thread."""

    event: str
    thread: str


class ThreadSpec(_Spec, frozen=True):
    """One thread: a graph of nodes starting at the node ``entrypoint``."""

    nodes: dict[str, Node]
    variables: dict[str, VariableDef] = {}
    """Variables local to this thread; the entrypoint thread's are the
    workflow's :attr:`WorkflowSpec.variables` instead."""
    interrupts: list[InterruptDef] = []


class Version(_Spec, frozen=True):
    """``major`` bumps when the interface breaks, ``revision`` otherwise."""

    major: int
    revision: int

    def __str__(self) -> str:
        return f"{self.major}.{self.revision}"


def first_version() -> Version:
    """The version of a workflow's first spec."""
    return Version(major=1, revision=0)


class WorkflowSpec(_Spec, frozen=True):
    """One version of one workflow, as ``wfc compile`` writes it."""

    name: str
    entrypoint: str
    """Name of the thread a run starts in."""
    threads: dict[str, ThreadSpec]
    schema: str
    """Format id: :data:`SCHEMA_ID` for this format, or an older one this
    wfc still reads (:data:`wfc.specs.formats.SCHEMA_IDS`)."""
    version: Version
    hash: str = ""
    """``sha256:`` of the canonical body (everything but version and hash)."""
    variables: dict[str, VariableDef] = {}
    """The workflow's variables: its inputs and state, visible to every thread."""
    output: VarType | None = None
    """Type of the run's output, when it has one."""
    forms: dict[str, FormDef] = {}
    """User task forms, by name, that ``user_task`` nodes assign."""
