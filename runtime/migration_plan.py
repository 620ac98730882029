"""Migration plans: which live runs of one workflow version can move to another.

:func:`plan_migration` reads every RUNNING or HALTED run of the old version
and puts it in one of three classes, each with its reasons:

- ``safe_now``: every live thread is at a node the new version has (the same
  id, or the one the mapping names), of the same kind and waiting for the
  same thing (task, event, form, threads), and every new required variable
  has a default or a value in the mapping;
- ``safe_later``: some thread is at a node that was removed (or changed what
  it waits for) but every way forward from it in the old version reaches a
  node that maps and where a thread stops between steps: the run can move
  once that thread reaches one of them (``wait_until`` names them per thread);
- ``must_drain``: let it finish on the old version. A thread is at a removed
  node from which no node before its exit maps, or its thread was removed, or a new
  required variable has no default and no mapping value, or the run is
  compensating (its compensations are the old version's steps).

Nothing is guessed: stable node ids map by themselves, any other node only
through the mapping file, which is checked against both specs
(:func:`parse_mapping`). The plan (:meth:`MigrationPlan.document`) is the
JSON document ``wfc migrate apply PLAN`` consumes
(:mod:`wfc.runtime.migration_apply`); its format is :data:`PLAN_FORMAT`,
described in README ("Changing a workflow that has runs in flight").

Only the store and the specs are read: no engine, no interpreter transitions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wfc.runtime.errors import UsageError
from wfc.runtime.interpreter.state import RunState, ThreadRun, ThreadStatus
from wfc.specs import (
    Node,
    OutputRef,
    ThreadSpec,
    UserTaskNode,
    VariableDef,
    WaitForThreadsNode,
    WorkflowSpec,
    node_kind,
)
from wfc.specs.limits import json_kind
from wfc.specs.walk import node_expressions, walk_expr

if TYPE_CHECKING:
    from wfc.runtime._reader import Reader

#: The ``format`` of a plan document.
PLAN_FORMAT = "wfc/migration-plan/1"

RunClass = Literal["safe_now", "safe_later", "must_drain"]
CLASSES: tuple[RunClass, ...] = ("safe_now", "safe_later", "must_drain")

#: What a thread waiting in a node of each kind waits for: a node of the
#: same id in the new version must wait for the same for the wait to carry over.
_WAITS_FOR = {"task": "task", "wait_for_event": "event", "user_task": "form", "wait_for_threads": "threads"}
#: The kinds of node a thread stops at between steps (it waits there): the
#: only places a run can be moved at. A thread passes every other node (a
#: branch, a nop, a spawn) within the step that reached it.
_RESTING = frozenset({"task", "wait_for_event", "user_task", "wait_for_threads", "sleep", "sleep_until"})


class MappingError(UsageError):
    """The mapping file names what the specs do not have, or is malformed."""


@dataclass(frozen=True)
class MigrationMapping:
    """What the mapping file says: node ids of the old version mapped to
    nodes of the new one, per thread, and values for new variables."""

    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The mapping as the plan document holds it."""
        return {"nodes": self.nodes, "variables": self.variables}


@dataclass(frozen=True)
class ThreadPlan:
    """Where one live thread is and where it goes."""

    number: int
    name: str
    node: str
    maps_to: str | None
    """The node of the new version it moves to now; ``None``: not now."""
    wait_until: tuple[str, ...] = ()
    """Nodes of the old version the thread must reach first (``safe_later``)."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Values of the thread's new local variables in the new version (a
    child thread's; the workflow's are :attr:`RunPlan.variables`)."""


@dataclass(frozen=True)
class RunPlan:
    """One run's class, with why."""

    run_id: str
    status: str
    run_version: int
    """The run row's version when planned (applying looks at each run again
    as it is then: one that moved since may have changed class)."""
    run_class: RunClass
    reasons: tuple[str, ...]
    threads: tuple[ThreadPlan, ...]
    variables: dict[str, Any]
    """Values the new version's new variables take when the run moves."""

    def document(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "run_version": self.run_version,
            "class": self.run_class,
            "reasons": list(self.reasons),
            "threads": [
                {
                    "number": t.number,
                    "name": t.name,
                    "node": t.node,
                    "maps_to": t.maps_to,
                    "wait_until": list(t.wait_until),
                }
                for t in self.threads
            ],
            "variables": self.variables,
        }


@dataclass(frozen=True)
class MigrationPlan:
    """Every live run of ``workflow`` ``source`` sorted for ``target``."""

    workflow: str
    source: str
    target: str
    source_hash: str
    target_hash: str
    mapping: MigrationMapping
    runs: tuple[RunPlan, ...]
    created_at: float
    plan_id: str = ""
    """Names the plan in the journal of the runs it moves."""
    migrate_later: bool = False
    """Applying it marks the ``safe_later`` runs to move once they can."""

    def counts(self) -> dict[RunClass, int]:
        """Runs per class."""
        return {name: sum(1 for r in self.runs if r.run_class == name) for name in CLASSES}

    def document(self) -> dict[str, Any]:
        """The plan as one JSON-ready document (:data:`PLAN_FORMAT`)."""
        return {
            "format": PLAN_FORMAT,
            "id": self.plan_id,
            "workflow": self.workflow,
            "from": {"version": self.source, "hash": self.source_hash},
            "to": {"version": self.target, "hash": self.target_hash},
            "created_at": dt.datetime.fromtimestamp(self.created_at, dt.UTC).isoformat(),
            "mapping": self.mapping.document(),
            "migrate_later": self.migrate_later,
            "summary": self.counts(),
            "runs": [run.document() for run in self.runs],
        }


# ---------------------------------------------------------------- the mapping


def parse_mapping(data: Any, old: WorkflowSpec, new: WorkflowSpec) -> MigrationMapping:
    """The mapping in ``data`` (as decoded from JSON or TOML), checked:
    every thread and old node it names exists in ``old``, every node it maps
    to in the same thread of ``new``, every variable is one of ``new``'s, of
    its type.

    Raises:
        MappingError: saying which entry is wrong and why.
    """
    if data is None:
        return MigrationMapping()
    if not isinstance(data, dict):
        raise MappingError(f"a mapping is a table (a JSON object) with `nodes` and `variables`, not {_kind(data)}")
    unknown = sorted(set(data) - {"nodes", "variables"})
    if unknown:
        raise MappingError(f"a mapping has `nodes` and `variables` only, not {', '.join(map(repr, unknown))}")
    nodes = _nodes(data.get("nodes", {}), old, new)
    variables = _variables(data.get("variables", {}), new)
    return MigrationMapping(nodes=nodes, variables=variables)


def _nodes(data: Any, old: WorkflowSpec, new: WorkflowSpec) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict):
        raise MappingError(f"`nodes` maps thread names to tables of old node id = new node id, not {_kind(data)}")
    found: dict[str, dict[str, str]] = {}
    for thread, pairs in data.items():
        where = _path("nodes", thread)
        if thread not in old.threads:
            raise MappingError(f"{where}: version {old.version} has no thread {thread!r} "
                               f"(threads: {', '.join(sorted(old.threads))})")  # fmt: skip
        if thread not in new.threads:
            raise MappingError(f"{where}: version {new.version} has no thread {thread!r}; "
                               f"its runs cannot move (threads are not renamed by a mapping)")  # fmt: skip
        if not isinstance(pairs, dict):
            raise MappingError(f"{where}: a table of old node id = new node id, not {_kind(pairs)}")
        for source, target in pairs.items():
            entry = _path("nodes", thread, source)
            if source not in old.threads[thread].nodes:
                raise MappingError(f"{entry}: version {old.version} has no node {source!r} "
                                   f"in thread {thread!r}")  # fmt: skip
            if not isinstance(target, str):
                raise MappingError(f"{entry}: give the id of a node of version {new.version} in thread {thread!r} "
                                   f'as a string (e.g. "{source}"), not {_kind(target)}')  # fmt: skip
            if target not in new.threads[thread].nodes:
                raise MappingError(f"{entry}: version {new.version} has no node {target!r} "
                                   f"in thread {thread!r}")  # fmt: skip
        _one_to_one(thread, pairs, old)
        found[thread] = dict(pairs)
    return found


def _one_to_one(thread: str, pairs: Mapping[str, str], old: WorkflowSpec) -> None:
    """Refuse a mapping that gives two nodes of the old version one id: a
    run remembers what it did per node id (visits, which number the next
    idempotency key and user task id, outputs, spawned children), and the
    two records would merge."""
    owner: dict[str, str] = {}
    for node in old.threads[thread].nodes:
        target = pairs.get(node, node)
        if target in owner:
            first, second = sorted((owner[target], node))
            raise MappingError(f"nodes.{thread}: {first} and {second} would both be node {target}; a run's record "
                               f"of the two would merge (map one of them to another node)")  # fmt: skip
        owner[target] = node


def _variables(data: Any, new: WorkflowSpec) -> dict[str, Any]:
    from wfc.runtime.interpreter.variables import coerce

    if not isinstance(data, dict):
        raise MappingError(f"`variables` maps variable names of the new version to values, not {_kind(data)}")
    found: dict[str, Any] = {}
    for name, value in data.items():
        where = _path("variables", name)
        definition = new.variables.get(name)
        if definition is None:
            raise MappingError(f"{where}: version {new.version} has no variable {name!r} "
                               f"(variables: {', '.join(sorted(new.variables)) or 'none'})")  # fmt: skip
        moment = _first_moment(value)
        if moment is not None:  # coerce would call it "a Python datetime"
            place, kind = moment
            raise MappingError(f"{_path('variables', name, *place)}: {kind} is not a JSON value; write it as a "
                               f'quoted string (e.g. "2024-05-01T09:00:00Z")')  # fmt: skip
        if value is None and definition.required:  # null is "unset": the run would lack a required variable
            raise MappingError(f"{where}: variable {name!r} is required in version {new.version}; give a "
                               f"{definition.type} value, not null")  # fmt: skip
        try:
            found[name] = coerce(value, definition.type)
        except ValueError as exc:
            raise MappingError(f"{where}: {_mistyped(value, definition.type, exc)}") from None
    return found


def _mistyped(value: Any, var_type: str, exc: ValueError) -> str:
    """Why ``value`` is no value of ``var_type``: coerce's reason when the
    value cannot be stored at all (it names the place, not the value), else
    the value shown as JSON, not as coerce's Python repr of it."""
    from wfc.runtime.interpreter.expressions import type_name
    from wfc.specs import json_problems

    if json_problems(value, max_depth=None):
        return str(exc)
    return f"expected {var_type}, got {type_name(value)} {_json(value)}"


def _first_moment(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """Where in ``value`` the first TOML date, time or date-time is (the
    keys and indexes leading to it), and which it is: TOML has them, JSON
    and wfc's variables do not."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, place = stack.pop()
        if isinstance(item, dt.date | dt.time):
            return place, _kind(item)
        if isinstance(item, dict):
            stack.extend((child, (*place, key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, (*place, index)) for index, child in reversed(list(enumerate(item))))
    return None


#: A key TOML reads bare (``nodes.main.wait-approval``); any other is quoted.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _path(*steps: str | int) -> str:
    """Where an entry is in the mapping file, as TOML writes a dotted key
    (``nodes.main."a.b"``), an array index as ``[2]``."""
    path = ""
    for step in steps:
        if isinstance(step, int):
            path += f"[{step}]"
        else:
            path += ("." if path else "") + _key(step)
    return path


def _key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.fullmatch(text) else json.dumps(text)


def _kind(value: Any) -> str:
    """What a value of the mapping file is, in the words of JSON and TOML
    (``null``, ``an array``, ``a TOML date``), never a Python type name."""
    toml = ((dt.datetime, "a TOML date-time"), (dt.date, "a TOML date"), (dt.time, "a TOML time"))
    found = next((name for types, name in toml if isinstance(value, types)), None)
    if found is not None:
        return found
    if isinstance(value, dict):
        return "a table (JSON object)"
    kind = json_kind(value)
    return "a value that is not JSON" if kind == "not a JSON value" else kind


def _json(value: Any, limit: int = 60) -> str:
    """``value`` as JSON for a message, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


# ---------------------------------------------------------------- sorting runs


def classify(
    run_id: str, status: str, run_version: int, state: RunState, old: WorkflowSpec, new: WorkflowSpec,
    mapping: MigrationMapping,
) -> RunPlan:  # fmt: skip
    """The class of one live run of ``old`` for a move to ``new``."""
    drain: list[str] = []
    later: list[str] = []
    values, missing = new_variables(old, new, mapping)
    drain.extend(f"new required variable {name!r} has no default and the mapping gives no value"
                 for name in missing)  # fmt: skip
    if state.saga is not None:
        drain.append("it is compensating: its compensations are the steps of the old version")
    threads: list[ThreadPlan] = []
    for thread in _live(state):
        plan, reason, must = _thread(thread, old, new, mapping)
        threads.append(plan)
        if reason:
            (drain if must else later).append(reason)
    run_class: RunClass = "must_drain" if drain else "safe_later" if later else "safe_now"
    if run_class == "safe_now":
        given = ", ".join(f"{k}={_shown(v)}" for k, v in sorted(values.items()))
        reasons = ["every thread is at a node the new version has" + (f"; new variables get {given}" if values else "")]
    else:
        reasons = drain + later
    return RunPlan(run_id, status, run_version, run_class, tuple(reasons), tuple(threads), values)


def _shown(value: Any) -> str:
    """A new variable's value in a reason: a string quoted as before
    (``'web'``), anything else as JSON (``null``, ``true``), not as Python."""
    return repr(value) if isinstance(value, str) else _json(value)


def new_variables(old: WorkflowSpec, new: WorkflowSpec, mapping: MigrationMapping) -> tuple[dict[str, Any], list[str]]:
    """The values the new version's new workflow variables take (the
    mapping's, else their defaults, else null for an optional one, as a new
    run of it starts), and the required ones with neither."""
    return _added(old.variables, new.variables, mapping.variables)


def _added(
    before: Mapping[str, VariableDef], after: Mapping[str, VariableDef], given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The values the variables of ``after`` that ``before`` lacks (or that
    ``given`` names) take: the value given, else the default, else null for
    an optional one; and the required ones with neither."""
    values: dict[str, Any] = {}
    missing: list[str] = []
    for name, definition in sorted(after.items()):
        if name in before and name not in given:
            continue
        if name in given:
            values[name] = given[name]
        elif definition.default is not None:
            values[name] = definition.default
        elif definition.required:
            missing.append(name)
        else:
            values[name] = None  # what a new run starts it with
    return values, missing


def _live(state: RunState) -> Iterable[ThreadRun]:
    for number in sorted(state.threads):
        thread = state.threads[number]
        if thread.status in (ThreadStatus.RUNNING, ThreadStatus.QUEUED) or thread.halt_reason is not None:
            yield thread


def _thread(
    thread: ThreadRun, old: WorkflowSpec, new: WorkflowSpec, mapping: MigrationMapping
) -> tuple[ThreadPlan, str, bool]:
    """The thread's plan, and why it cannot move now (empty: it can), and
    whether that means the run must drain."""
    where = f"thread {thread.number} ({thread.name}) at node {thread.node}"
    old_thread, new_thread = old.threads.get(thread.name), new.threads.get(thread.name)
    if new_thread is None or old_thread is None:
        plan = ThreadPlan(thread.number, thread.name, thread.node, None)
        return plan, f"{where}: thread {thread.name!r} was removed in version {new.version}", True
    target = _target(thread.name, thread.node, old_thread, new_thread, mapping)
    problem = _problem(thread.node, old_thread, new_thread, target, thread.wait is not None)
    if not problem and target is not None:
        # a child's inputs were given when it was spawned: nothing can give a new required one now
        values, missing = _added(old_thread.variables, new_thread.variables, {})
        lasting = (
            _unhandled(thread, new, new_thread)
            or _unread(target, old_thread, new_thread, mapping.nodes.get(thread.name, {}), new)
            or (f"new required thread variable {missing[0]!r} has no default" if missing else "")
        )
        if lasting:
            return ThreadPlan(thread.number, thread.name, thread.node, None), f"{where}: {lasting}", True
        return ThreadPlan(thread.number, thread.name, thread.node, target, variables=values), "", False
    gates = _gates(thread.name, thread.node, old_thread, new_thread, mapping)
    if not gates:
        plan = ThreadPlan(thread.number, thread.name, thread.node, None)
        return plan, f"{where}: {problem}, and no node before the thread's exit maps to version {new.version}", True
    plan = ThreadPlan(thread.number, thread.name, thread.node, None, gates)
    return plan, f"{where}: {problem}; safe once it reaches {' or '.join(gates)}", False


def _unhandled(thread: ThreadRun, new: WorkflowSpec, new_thread: ThreadSpec) -> str:
    """Why an interrupt the thread holds, not handled yet, could not be
    handled in the new version (empty: every one can)."""
    pending = list(thread.interrupts)
    if thread.interrupt is not None and thread.interrupt.handler is None:
        pending.append(thread.interrupt)
    handlers = {definition.event: definition.thread for definition in new_thread.interrupts}
    for interrupt in pending:
        handler = handlers.get(interrupt.event)
        if handler is None or handler not in new.threads:
            return (f"it holds interrupt {interrupt.event!r}, which version {new.version} does not handle in "
                    f"thread {thread.name!r}")  # fmt: skip
    return ""


def _unread(target: str, old: ThreadSpec, new: ThreadSpec, renames: Mapping[str, str], spec: WorkflowSpec) -> str:
    """Why the new version would read, after the move, what a node did that
    this thread never ran (its output, or the children it spawned): a node
    new in the version, not reachable from where the thread goes (empty:
    none). A node of the old version, or one the mapping renames, is
    remembered (or not) as the old version would have it."""
    known = {renames.get(node, node) for node in old.nodes}
    ahead = _reachable(new, target)
    for node, what in _records_read(new):
        if node not in known and node not in ahead:
            return (f"version {spec.version} reads the {what} of node {node}, which this thread never ran and will "
                    f"not reach from {target} (a node new before it, or renamed without a mapping entry)")  # fmt: skip
    return ""


def _records_read(thread: ThreadSpec) -> Iterable[tuple[str, str]]:
    """The node ids whose record a thread reads: outputs, spawned children."""
    for node in thread.nodes.values():
        if isinstance(node, WaitForThreadsNode):
            yield from ((spawn, "children") for spawn in node.threads)
        for _, expr in node_expressions(node):
            yield from ((sub.node, "output") for sub in walk_expr(expr) if isinstance(sub, OutputRef))


def _reachable(thread: ThreadSpec, start: str) -> set[str]:
    """The nodes a thread at ``start`` may still enter, ``start`` included."""
    seen = {start}
    frontier = [start]
    while frontier:
        for edge in _edges(thread.nodes.get(frontier.pop())):
            if edge.to not in seen:
                seen.add(edge.to)
                frontier.append(edge.to)
    return seen


def _target(name: str, node: str, old: ThreadSpec, new: ThreadSpec, mapping: MigrationMapping) -> str | None:
    mapped = mapping.nodes.get(name, {}).get(node)
    if mapped is not None:
        return mapped
    return node if node in new.nodes else None


def _problem(node: str, old: ThreadSpec, new: ThreadSpec, target: str | None, waiting: bool) -> str:
    """Why a thread at ``node`` cannot move to ``target`` now (empty: it can)."""
    before = old.nodes.get(node)
    if target is None or before is None:
        return "its node was removed and the mapping does not map it"
    after = new.nodes[target]
    if node_kind(before) != node_kind(after):
        return f"node {target} is a {node_kind(after)} node in the new version, not a {node_kind(before)}"
    what = _WAITS_FOR.get(node_kind(before))
    if waiting and what is not None and getattr(before, what) != getattr(after, what):
        was, now = _value(getattr(before, what)), _value(getattr(after, what))
        return f"it waits for {what} {was}, and node {target} waits for {what} {now}"
    if (
        waiting
        and isinstance(before, UserTaskNode)
        and isinstance(after, UserTaskNode)
        and before.timers != after.timers  # the armed timers are kept by their place in the node's list
    ):
        return f"its user task's timers differ from node {target}'s (reminders, reassignments, deadlines)"
    return ""


def _value(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _gates(name: str, node: str, old: ThreadSpec, new: ThreadSpec, mapping: MigrationMapping) -> tuple[str, ...]:
    """The first nodes after ``node`` on every way forward in the old
    version where the thread stops (:data:`_RESTING`) and can move to the
    new one; empty when some way forward reaches the thread's exit first (a
    thread at its exit has ended: it would never move). A node the thread
    only passes through is no gate, even if it maps: the run is never
    looked at while the thread is there."""
    gates: list[str] = []
    seen = {node}
    frontier = [edge.to for edge in _edges(old.nodes.get(node))]
    while frontier:
        current = frontier.pop(0)
        if current in seen:
            continue
        seen.add(current)
        if node_kind(old.nodes[current]) == "exit":
            return ()  # the thread ends there: past it there is nothing left to move
        target = _target(name, current, old, new, mapping)
        resting = node_kind(old.nodes[current]) in _RESTING
        if resting and target is not None and not _problem(current, old, new, target, waiting=True):
            gates.append(current)
            continue
        following = [edge.to for edge in _edges(old.nodes.get(current))]
        if not following:
            return ()  # the thread can end without passing a node that maps
        frontier.extend(following)
    return tuple(gates)


def _edges(node: Node | None) -> list[Any]:
    return [] if node is None else list(node.edges)


# ---------------------------------------------------------------- reading runs


async def plan_migration(
    reader: Reader,
    workflow: str,
    source: str,
    target: str,
    mapping: Mapping[str, Any] | None = None,
    *,
    migrate_later: bool = False,
) -> MigrationPlan:
    """Sort every live run of ``workflow`` version ``source`` for a move to
    version ``target`` (both deployed), with ``mapping`` as decoded from the
    mapping file (see :func:`parse_mapping`). Reads only. ``migrate_later``:
    applying the plan marks its ``safe_later`` runs to move once they can
    (see :mod:`wfc.runtime.migration_apply`).

    Raises:
        UnknownWorkflowError: the workflow or a version is not deployed.
        MappingError: the mapping does not fit the two versions.
        UsageError: a malformed version, or the same version twice.
    """
    old = (await reader.deployed(workflow, source)).spec
    new = (await reader.deployed(workflow, target)).spec
    if old.version == new.version:
        raise UsageError(f"--from and --to are both version {old.version} of {workflow}: nothing to move")
    # Not dict(mapping): a list or string given by a caller would turn into
    # a TypeError or ValueError there, where parse_mapping says what is wrong.
    checked = parse_mapping(dict(mapping) if isinstance(mapping, Mapping) else mapping, old, new)
    runs: list[RunPlan] = []
    async for record in reader.live_runs(workflow, old.version.major, old.version.revision):
        state = reader.state(record)  # a run it cannot read is refused by name, not sorted
        runs.append(classify(record.id, record.status, record.version, state, old, new, checked))
    runs.sort(key=lambda r: (CLASSES.index(r.run_class), r.run_id))
    return MigrationPlan(
        workflow=workflow, source=str(old.version), target=str(new.version), source_hash=old.hash,
        target_hash=new.hash, mapping=checked, runs=tuple(runs), created_at=reader.now(),
        plan_id=uuid.uuid4().hex, migrate_later=migrate_later,
    )  # fmt: skip
