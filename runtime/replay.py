"""Replaying a recorded run against another version of its workflow, offline.

The inputs each committed step of the run applied (task results, events,
timers, operator commands, user task actions) are read back from its journal
(:mod:`wfc.runtime._journal_inputs`) and fed to ``begin``/``step`` over the
*other* spec. Where the new version, given the same inputs, writes the same
journal entries step after step, it would have taken the run down the same
path: the run is **compatible**. The first entry where it writes something
else (another node, another task, a different branch, a variable set to
another value) or cannot take the recorded input at all (no attempt of that
node is awaited, the inputs are refused) is the **divergence**, reported with
what the recorded run did and what the new version does.

Nothing is written and no task runs: a CI step can replay sampled production
runs against a spec before deploying it (``wfc replay``).

Masked values are ``***`` in the journal, in the replay as in the run (a
masked start input of a number or bool type starts the replay as ``0`` or
``false``): a branch on a secret cannot be told apart. Two things the
journal cannot tell, so they are not compared: the delay of a retry's
backoff (``retry_in``: it depends on the ``@task`` defaults of the worker,
which are not stored) and the versions in ``RUN_STARTED``, ``MIGRATED``
and ``MIGRATION_PENDING``. A run moved to another version by ``wfc migrate
apply`` is replayed across the move: its threads move to the nodes the
``MIGRATED`` entry names, on the one spec replayed against. A task's
default ``retries`` (from ``@task``, used where the spec leaves them unset)
is read back from the recorded failures: a failure that was retried shows
there were retries left, a last failure shows how many there were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wfc.runtime._journal_inputs import JournalMismatch, entry_dict, input_for, step_starter
from wfc.runtime.errors import UsageError
from wfc.runtime.interpreter import Limits, TaskPolicy, Transition, begin, crash, step
from wfc.runtime.interpreter.errors import InputError
from wfc.runtime.interpreter.migration import await_migration, drop_migration, migrate
from wfc.runtime.interpreter.secrets import MASK
from wfc.runtime.interpreter.state import PendingMigration, RunState
from wfc.specs import TaskNode, WorkflowSpec

if TYPE_CHECKING:
    from wfc.runtime._reader import Reader

#: Detail fields compared nowhere (see the module's docstring), by entry kind.
_IGNORED: dict[str, tuple[str, ...]] = {
    "RUN_STARTED": ("version",), "TASK_FAILED": ("retry_in",), "MIGRATED": ("from", "to"), "MIGRATION_PENDING": ("to",),
}  # fmt: skip
#: Detail fields that say what an entry did, in the one line describing it.
_SHOWN = ("task", "event", "error", "var", "value", "output", "name", "reason", "user_task", "strategy")


@dataclass(frozen=True)
class Divergence:
    """The first point where the new version does not do what the run did."""

    seq: int
    """The journal entry (its ``seq``) the new version does not reproduce."""
    step_seq: int
    """The first entry of the step that diverges: the entry naming its input."""
    input: str
    """The input of that step: ``begin``, ``TaskCompleted``, ``EventArrived``, ..."""
    thread: int
    node: str | None
    """Thread and node of the recorded entry (of the step's first entry when
    the journal holds none at ``seq``)."""
    recorded: dict[str, Any] | None
    """The entry the run wrote at ``seq`` (``None``: its journal ends there)."""
    replayed: dict[str, Any] | None
    """The entry the new version writes there (``None``: it writes nothing
    more, or cannot take the input)."""
    reason: str
    """One sentence: what the run did, and what the new version does."""


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of replaying one run against a spec."""

    run_id: str
    workflow: str
    recorded_version: str
    """The version the run ran on."""
    spec_version: str
    """The version replayed against."""
    status: str
    """The run's status as stored."""
    entries: int
    """Journal entries replayed (all of them when compatible)."""
    steps: int
    """Steps replayed up to the divergence (all of them when compatible)."""
    divergence: Divergence | None = None
    policies: dict[str, int] = field(default_factory=dict)
    """The ``@task`` default retries read back from the journal, by task."""

    @property
    def compatible(self) -> bool:
        """Whether the new version reproduces every recorded step."""
        return self.divergence is None

    @property
    def outcome(self) -> Literal["compatible", "diverged"]:
        """``compatible`` or ``diverged``."""
        return "compatible" if self.divergence is None else "diverged"


def replay(
    spec: WorkflowSpec,
    run_id: str,
    journal: Sequence[Mapping[str, Any]],
    payloads: Mapping[str, Any],
    *,
    recorded: WorkflowSpec | None = None,
    status: str = "",
    limits: Limits | None = None,
) -> ReplayReport:
    """Replay run ``run_id``'s ``journal`` (entries as the journal table holds
    them: ``seq``, ``at``, ``kind``, ``thread``, ``node``, ``attempt``,
    ``detail``) with the payloads of its events by id, against ``spec``.

    ``recorded``: the spec the run ran on, if known: the task defaults read
    back from the journal are then taken only from nodes that left them unset.

    Raises:
        JournalMismatch: the journal does not start with ``RUN_STARTED``.
    """
    entries = [dict(entry) for entry in journal]
    if not entries or entries[0]["kind"] != "RUN_STARTED":
        raise JournalMismatch(f"the journal of run {run_id} does not start with RUN_STARTED")
    retries = default_retries(entries, recorded)
    policies = {task: TaskPolicy(retries=count) for task, count in retries.items()}
    first = entries[0]
    version = str(first["detail"].get("version", recorded.version if recorded else "?"))
    report = _Progress(spec, run_id, entries, version, status, retries)
    try:
        inputs = _inputs(spec, first["detail"].get("inputs", {}))
        transition = begin(spec, run_id, inputs, first["at"], policies, limits)
    except InputError as exc:
        return report.refused(0, "begin", f"the new version refuses the run's inputs: {exc}")
    done = report.check(transition, 0, "begin")
    state = transition.state
    while isinstance(done, int) and done < len(entries):
        starter = step_starter(entries, done)
        what, moved = _apply(spec, state, starter, payloads, policies, limits)
        if isinstance(moved, str):
            return report.refused(done, what, moved, starter)
        done = report.check(moved, done, what)
        state = moved.state
    return done if isinstance(done, ReplayReport) else report.finished()


async def replay_stored(reader: Reader, run_id: str, spec: WorkflowSpec) -> ReplayReport:
    """Replay the stored run ``run_id`` against ``spec`` (see :func:`replay`),
    reading its journal and events through ``reader``; nothing is written.

    Raises:
        UnknownRunError: no run has this id.
        UsageError: the run is of another workflow than ``spec``.
    """
    record, journal, payloads = await reader.recorded(run_id)
    if record.workflow != spec.name:
        raise UsageError(
            f"run {run_id} is a run of workflow {record.workflow!r}, and the spec is of {spec.name!r}: "
            f"give a spec of {record.workflow!r}"
        )
    recorded = (await reader.spec_of(record)).spec
    return replay(spec, run_id, journal, payloads, recorded=recorded, status=record.status)


#: What stands for a masked input the journal shows as ``***``, by the
#: variable's type: the journal holds no secret, so a replay starts with one
#: of the right type (a ``str`` or ``json`` one stays ``***``).
_PLACEHOLDERS: dict[str, Any] = {"int": 0, "float": 0.0, "bool": False}


def _inputs(spec: WorkflowSpec, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The run's start inputs as its journal shows them, masked ones of a
    non-text type replaced by a placeholder of that type."""
    found = dict(inputs)
    for name, value in inputs.items():
        definition = spec.variables.get(name)
        if value == MASK and definition is not None and definition.masked and definition.type in _PLACEHOLDERS:
            found[name] = _PLACEHOLDERS[definition.type]
    return found


def _apply(
    spec: WorkflowSpec,
    state: RunState,
    starter: dict[str, Any],
    payloads: Mapping[str, Any],
    policies: Mapping[str, TaskPolicy],
    limits: Limits | None,
) -> tuple[str, Transition | str]:
    """The input named by ``starter`` and the transition it gives, or why
    the new version's run cannot take it."""
    if starter["kind"] == "RUN_FAILED":
        detail = starter["detail"]
        message, error = detail.get("message", ""), detail.get("error", "INTERNAL_ERROR")
        return "crash", crash(state, spec, message, starter["at"], error)
    if starter["kind"].startswith("MIGRAT"):
        return "migration", _migration(spec, state, starter)
    try:
        event = input_for(state, starter, payloads, spec)
    except (JournalMismatch, KeyError, AttributeError) as exc:
        why = str(exc) if isinstance(exc, JournalMismatch) else f"it has no thread {starter['thread']} waiting there"
        return _input_name(starter), f"the new version's run cannot take this input: {why}"
    try:
        return type(event).__name__, step(state, spec, event, starter["at"], policies, limits)
    except Exception as exc:  # the new spec breaks the interpreter's assumptions: that is a divergence too
        return type(event).__name__, f"the new version fails on this input: {type(exc).__name__}: {exc}"


def _migration(spec: WorkflowSpec, state: RunState, entry: Mapping[str, Any]) -> Transition | str:
    """The move to another version the entry records, made on ``spec``:
    the recorded run's threads go to the nodes it moved them to, its new
    variables take the values recorded (a masked one its placeholder)."""
    detail, at = entry["detail"], entry["at"]
    plan = str(detail.get("plan", ""))
    if entry["kind"] == "MIGRATION_DROPPED":
        return drop_migration(state, detail.get("reasons", []), at)
    if entry["kind"] == "MIGRATION_PENDING":
        pending = PendingMigration(plan=plan, to=spec.version)
        return await_migration(state, pending, detail.get("wait_until", []), at)
    moves: dict[int, str] = {}
    renames: dict[str, dict[str, str]] = {}
    for moved in detail.get("threads", []):
        thread = state.threads.get(moved["thread"])
        if thread is None:
            return f"the new version's run has no thread {moved['thread']} to move to node {moved['to']}"
        moves[thread.number] = moved["to"]
        renames.setdefault(thread.name, {})[moved["from"]] = moved["to"]
    variables = _inputs(spec, detail.get("variables", {}))
    local = {int(number): dict(values) for number, values in detail.get("local", {}).items()}
    shown = [detail.get("variables", {}), *local.values()]
    masked = [name for values in shown for name, value in values.items() if value == MASK]
    return migrate(state, spec, moves, renames, variables, at, plan=plan, automatic=bool(detail.get("automatic")),
                   masked=masked, local=local)  # fmt: skip


def _input_name(starter: Mapping[str, Any]) -> str:
    return str(starter["kind"]).lower()


class _Progress:
    """How far the replay got, and the report it ends with."""

    def __init__(
        self,
        spec: WorkflowSpec,
        run_id: str,
        entries: list[dict[str, Any]],
        version: str,
        status: str,
        retries: dict[str, int],
    ) -> None:
        self.spec, self.run_id, self.entries = spec, run_id, entries
        self.version, self.status, self.retries = version, status, retries
        self.steps = 0

    def _report(self, replayed: int, divergence: Divergence | None) -> ReplayReport:
        return ReplayReport(
            run_id=self.run_id,
            workflow=str(self.entries[0]["detail"].get("workflow", self.spec.name)),
            recorded_version=self.version,
            spec_version=str(self.spec.version),
            status=self.status,
            entries=replayed,
            steps=self.steps,
            divergence=divergence,
            policies=dict(self.retries),
        )

    def finished(self) -> ReplayReport:
        return self._report(len(self.entries), None)

    def refused(self, start: int, what: str, reason: str, starter: dict[str, Any] | None = None) -> ReplayReport:
        entry = starter or self.entries[start]
        divergence = Divergence(
            seq=int(entry["seq"]), step_seq=int(self.entries[start]["seq"]), input=what, thread=int(entry["thread"]),
            node=entry["node"], recorded=entry, replayed=None,
            reason=f"the run recorded {describe(entry)}; {reason}",
        )  # fmt: skip
        return self._report(start, divergence)

    def check(self, transition: Transition, start: int, what: str) -> int | ReplayReport:
        """The index after the step's entries when the new version wrote
        those the journal holds; else the report of the divergence."""
        written = [entry_dict(e) for e in transition.journal]
        stored = self.entries[start : start + len(written)]
        for offset in range(max(len(written), len(stored))):
            mine = written[offset] if offset < len(written) else None
            theirs = stored[offset] if offset < len(stored) else None
            if mine is not None and theirs is not None and _same(mine, theirs):
                continue
            return self._report(start + offset, self._divergence(start, offset, what, theirs, mine))
        self.steps += 1
        return start + len(written)

    def _divergence(
        self, start: int, offset: int, what: str, theirs: dict[str, Any] | None, mine: dict[str, Any] | None
    ) -> Divergence:
        anchor = theirs or self.entries[start]
        if theirs is None:
            reason = f"the run's journal ends here; the new version goes on to write {describe(mine or {})}"
        elif mine is None:
            reason = f"the run recorded {describe(theirs)}; the new version writes nothing more for this input"
        else:
            reason = f"the run recorded {describe(theirs)}; the new version writes {describe(mine)}"
        seq = int(theirs["seq"]) if theirs is not None else int((mine or anchor)["seq"])
        return Divergence(
            seq=seq, step_seq=int(self.entries[start]["seq"]), input=what, thread=int(anchor["thread"]),
            node=anchor["node"], recorded=theirs, replayed=mine, reason=reason,
        )  # fmt: skip


def _same(written: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    if any(written.get(key) != stored.get(key) for key in ("seq", "kind", "thread", "node", "attempt")):
        return False
    ignored = _IGNORED.get(str(stored["kind"]), ())
    mine = {k: v for k, v in (written.get("detail") or {}).items() if k not in ignored}
    theirs = {k: v for k, v in (stored.get("detail") or {}).items() if k not in ignored}
    return bool(_plain(mine) == _plain(theirs))


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists), to compare a
    written entry with a stored one."""
    import msgspec

    return msgspec.json.decode(msgspec.json.encode(value))


def describe(entry: Mapping[str, Any]) -> str:
    """One line for a journal entry: ``#7 TASK_DISPATCHED of node 3-ship
    (thread 0) task=ship``."""
    if not entry:
        return "nothing"
    where = f" of node {entry['node']}" if entry.get("node") else ""
    detail = entry.get("detail") or {}
    shown = [f"{key}={_short(detail[key])}" for key in _SHOWN if key in detail and detail[key] is not None]
    line = f"#{entry['seq']} {entry['kind']}{where} (thread {entry['thread']})"
    return f"{line} {' '.join(shown)}" if shown else line


def _short(value: Any) -> str:
    import msgspec

    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return text if len(text) <= 60 else text[:59] + "…"


def default_retries(journal: Sequence[Mapping[str, Any]], recorded: WorkflowSpec | None = None) -> dict[str, int]:
    """The ``@task`` default retries the journal shows, by task name: a
    technical failure that was retried at attempt ``n`` shows at least ``n``
    retries, a last one at attempt ``n`` shows ``n - 1``. Only failures of
    nodes leaving ``retries`` unset count (all of them when ``recorded`` is
    not given)."""
    least: dict[str, int] = {}
    exact: dict[str, int] = {}
    threads: dict[int, str] = {}
    for entry in journal:
        detail = entry.get("detail") or {}
        if entry["kind"] in ("THREAD_STARTED", "THREAD_QUEUED") and "name" in detail:
            threads[int(entry["thread"])] = str(detail["name"])
        if entry["kind"] != "TASK_FAILED" or detail.get("kind") == "exception" or "task" not in detail:
            continue
        if recorded is not None and not _unset(recorded, threads.get(int(entry["thread"]), recorded.entrypoint),
                                               entry["node"]):  # fmt: skip
            continue
        task, attempt = str(detail["task"]), int(entry.get("attempt") or 1)
        if "next_attempt" in detail:
            least[task] = max(least.get(task, 0), attempt)
        else:
            exact[task] = max(exact.get(task, 0), attempt - 1)
    return {task: max(least.get(task, 0), exact.get(task, 0)) for task in sorted({*least, *exact})}


def _unset(spec: WorkflowSpec, thread: str, node: str | None) -> bool:
    found = spec.threads.get(thread)
    task = found.nodes.get(node or "") if found is not None else None
    return isinstance(task, TaskNode) and task.retries is None
