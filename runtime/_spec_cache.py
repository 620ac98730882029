"""The engine's one cache of deployed specs, decoded once per version.

Every reader of a stored spec (the public API, each turn of the commit loop,
the run views) asks this cache, so a spec version is decoded once per
engine, and a missing one is reported by one error. Next to each decoded
spec the cache keeps what is derived from it once (:class:`CachedSpec`):
:func:`derive` is the single place where per-spec data is computed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

import msgspec

from wfc.runtime._search import Searchable, searchable_variables
from wfc.runtime.errors import StoreError
from wfc.runtime.interpreter import SpecInfo, derive_spec_info
from wfc.runtime.store import SpecRecord
from wfc.runtime.store.core import SpecVersion
from wfc.specs import WaitForEventNode, WorkflowSpec, loads_deployed

SpecKey = tuple[str, int, int]
"""``(workflow, major, revision)``: a deployed spec version."""


class CachedSpec(msgspec.Struct, frozen=True):
    """A deployed spec and what the engine derives from it once."""

    spec: WorkflowSpec
    info: SpecInfo
    """What the interpreter derives from the spec (masked names, tasks)."""
    events: frozenset[str]
    """Every event name a run of the spec can take."""
    searchable: Searchable = ()
    """The variables a commit indexes (see :mod:`wfc.runtime._search`)."""


def derive(spec: WorkflowSpec) -> CachedSpec:
    """Everything derived once per spec: the one place it is computed."""
    info = derive_spec_info(spec)
    return CachedSpec(
        spec=spec, info=info, events=awaited_events(spec), searchable=searchable_variables(spec, info.masked)
    )


def awaited_events(spec: WorkflowSpec) -> frozenset[str]:
    """Every event name a run of ``spec`` can take: the events of its
    ``wait_for_event`` nodes and of its interrupt handlers, in every thread."""
    names: set[str] = set()
    for thread in spec.threads.values():
        names.update(node.event for node in thread.nodes.values() if isinstance(node, WaitForEventNode))
        names.update(interrupt.event for interrupt in thread.interrupts)
    return frozenset(names)


class VersionSource(Protocol):
    """Where the deployed versions of a workflow are read."""

    async def spec_versions(self, name: str) -> list[SpecVersion]:
        """The versions of ``name``, oldest first."""

    async def writes_elsewhere(self, *, wait: bool = True) -> int | None:
        """A number that changes when another connection commits (see
        :meth:`wfc.runtime.store.Store.writes_elsewhere`)."""


class SpecSource(Protocol):
    """Where stored specs are read: the store, or an open transaction."""

    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        """The stored spec version, or ``None``."""


class SpecCache:
    """Deployed specs by version, decoded once (deployed specs never change);
    and, where told to keep them (see :meth:`__init__`), which versions
    each workflow has."""

    def __init__(self, location: str, *, versions_ttl: float = 0.0, versions_marked: bool = False) -> None:
        """A workflow's list of deployed versions (what a start without a
        version picks the latest of; a read per start otherwise) is kept:

        - ``versions_ttl``: for that many seconds. Set where another
          process's deploy is told (PostgreSQL's notifications, see
          :meth:`forget_versions`); the time is the bound on a notification
          lost while the listener reconnected.
        - ``versions_marked``: while no other connection committed to the
          database (:meth:`VersionSource.writes_elsewhere`; SQLite, where
          nothing is told, and the mark is read without a thread hop while
          the store's writer is idle, as when runs start one at a time).

        Either way this engine's own deploys forget what they change."""
        self._location = location
        self._entries: dict[SpecKey, CachedSpec] = {}
        self._versions_ttl = versions_ttl
        self._versions_marked = versions_marked
        self._versions: dict[str, tuple[float, list[SpecVersion]]] = {}
        self._forgotten = 0
        """How many times versions were forgotten: a list read meanwhile may be old."""

    async def versions(self, source: VersionSource, workflow: str) -> list[SpecVersion]:
        """The deployed versions of ``workflow``, oldest first (empty: none)."""
        if self._versions_ttl > 0:
            now = time.monotonic()
            kept = self._versions.get(workflow)
            if kept is not None and kept[0] > now:
                return kept[1]
            token = now + self._versions_ttl
        elif self._versions_marked and (mark := await source.writes_elsewhere(wait=False)) is not None:
            # Read before the versions: a deploy elsewhere committed after
            # that read changes the mark the next start sees. Not waited
            # for: behind commits, the read of the versions is no slower.
            kept = self._versions.get(workflow)
            if kept is not None and kept[0] == mark:
                return kept[1]
            token = mark
        else:
            return await source.spec_versions(workflow)
        forgotten = self._forgotten
        found = await source.spec_versions(workflow)
        # An unknown workflow is asked again: its first deploy must show at
        # once. Nor is a list kept that a deploy may have changed meanwhile.
        if found and forgotten == self._forgotten:
            self._versions[workflow] = (token, found)
        return found

    def forget_versions(self, workflows: Iterable[str] = ()) -> None:
        """Drop the kept version lists of ``workflows`` (none given: all):
        a version of them was deployed."""
        names = tuple(workflows)
        self._forgotten += 1
        if not names:
            self._versions.clear()
        for name in names:
            self._versions.pop(name, None)

    def decoded(self, record: SpecRecord) -> CachedSpec:
        """The cached spec of a stored spec row (decoded on first sight)."""
        key = (record.name, record.major, record.revision)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = derive(loads_deployed(record.body))
        return entry

    async def deployed(self, source: SpecSource, key: SpecKey) -> CachedSpec | None:
        """A spec version from the cache or ``source``; ``None`` if not deployed."""
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        record = await source.get_spec(*key)
        return None if record is None else self.decoded(record)

    async def load(self, source: SpecSource, key: SpecKey, run_id: str) -> CachedSpec:
        """The spec version run ``run_id`` is on, from the cache or ``source``.

        Raises:
            StoreError: the database has no such spec version (it was
                removed by hand: runs never outlive their spec otherwise).
        """
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        record = await source.get_spec(*key)
        if record is None:
            name, major, revision = key
            raise StoreError(
                self._location, f"spec {name} {major}.{revision} of run {run_id!r} is missing from the database"
            )
        return self.decoded(record)
