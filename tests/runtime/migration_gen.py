"""Random (old spec, new spec, run position) triples for the migration
property test, and what the plan should say about each.

The old version of workflow ``mig`` is one chain of *items* in the thread
``main``, then an exit whose output lists ``x`` and the outputs of its tasks:

- a task ``tK`` (node ``tK``, task ``tK``, argument ``x``);
- a wait ``wK`` for the event ``eK``;
- a user task ``uK`` assigned to ``ann`` with the form ``approve``;
- a branch ``ifK`` (a nop): to the task ``bK`` when the input ``flag``
  holds, then the nop ``joinK``; else straight to ``joinK``.

The new version edits each item: keeps it, removes it, renames its node (the
mapping file maps the old id to the new one), renames it without saying so
in the mapping (to the plan, the old node was removed and a new one added),
or keeps its id for a node that waits for something else (another task,
event or form: a thread waiting there cannot move); a branch is kept,
removed whole, or its task node renamed. New tasks ``nJ`` and waits ``vJ``
(event ``gJ``) are inserted, and optionally a new variable ``v`` (with a
default, or required with its value in the mapping file) that every task
of the new version also takes.

A run position is a node where a run of the old version rests
(:func:`resting_nodes`): a wait (waiting for its event), a user task (open)
or a task (its attempt running); the test puts one run at each. :func:`expectation` says
from the scenario alone which class the plan must give the run at each
position, and where it will move to the new version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st
from rtspec import Json, edge, exit_, field, form, lst, nop, out, spec, task, user_task, var, variable, wait

from wfc.specs import WorkflowSpec

ItemKind = Literal["task", "wait", "form", "branch"]
Edit = Literal["keep", "remove", "rename", "unmapped", "change"]
Halt = Literal["no", "halt", "release"]
Stale = Literal["no", "before", "racing"]
NewVariable = Literal["no", "default", "mapped"]
RunClass = Literal["safe_now", "safe_later", "must_drain"]

WORKFLOW = "mig"
#: The form of every user task, and what the test completes it with.
FORM, FORM2, FORM_VALUES = "approve", "approve-again", {"ok": True}
APPROVE, APPROVE2 = form(FORM, field("ok", "bool")), form(FORM2, field("ok", "bool"))
#: The new version's new variable and its default.
NEW_VARIABLE, NEW_DEFAULT, NEW_MAPPED = "v", "fresh", "given"


@dataclass(frozen=True)
class Item:
    """One item of the old chain and what the new version does to it."""

    kind: ItemKind
    number: int
    edit: Edit

    @property
    def node(self) -> str:
        """The old id of its main node (the branch's: its task)."""
        return {"task": "t", "wait": "w", "form": "u", "branch": "b"}[self.kind] + str(self.number)

    @property
    def renamed(self) -> str:
        return f"{self.node}-r"


@dataclass(frozen=True)
class Insert:
    """A node only the new version has, before old item ``before`` (or at the end)."""

    kind: Literal["task", "wait"]
    number: int
    before: int

    @property
    def node(self) -> str:
        return f"n{self.number}" if self.kind == "task" else f"v{self.number}"


@dataclass(frozen=True)
class Scenario:
    """One example: the two versions and the runs' inputs. A run of the
    old version rests at each node of :func:`resting_nodes`."""

    items: tuple[Item, ...]
    inserts: tuple[Insert, ...]
    new_variable: NewVariable
    """The new version's new variable ``v``: none, with a default, or
    required, its value for moved runs in the mapping file."""
    flag: bool
    migrate_later: bool
    halt: Halt = "no"
    """``halt``: the runs are HALTED while planned and applied, resumed
    after; ``release``: and their running task attempts answer meanwhile
    (the result is kept for the resume)."""
    stale: Stale = "no"
    """``before``: each run moves on one resting node between the plan and
    its apply (then halts, if it does); ``racing``: each does while the
    plan is applied (never halted)."""
    race_turns: int = 0
    """``racing``: the ``i``-th run moves after ``i * race_turns`` turns of the event loop."""

    @property
    def inputs(self) -> dict[str, Any]:
        """A run's inputs on the old version."""
        return {"x": "in", "flag": self.flag}

    @property
    def new_inputs(self) -> dict[str, Any]:
        """A run's inputs on the new version."""
        return self.inputs | ({NEW_VARIABLE: NEW_MAPPED} if self.new_variable == "mapped" else {})

    @property
    def new_value(self) -> str | None:
        """The value of ``v`` in a moved run (``None``: no ``v``)."""
        return {"no": None, "default": NEW_DEFAULT, "mapped": NEW_MAPPED}[self.new_variable]


# ---------------------------------------------------------------- strategies


@st.composite
def scenarios(draw: Callable[..., Any]) -> Scenario:
    """A random scenario with at least one node where the old run rests."""
    kinds = draw(st.lists(st.sampled_from(("task", "task", "wait", "wait", "form", "branch")), min_size=1, max_size=6))
    items = []
    for number, kind in enumerate(kinds, start=1):
        edits: tuple[Edit, ...] = ("keep", "remove", "rename") if kind == "branch" else (
            "keep", "keep", "remove", "rename", "rename", "unmapped", "change")  # fmt: skip
        items.append(Item(kind, number, draw(st.sampled_from(edits))))
    inserted = draw(st.lists(st.tuples(st.sampled_from(("task", "wait")), st.integers(0, len(items))), max_size=3))
    inserts = tuple(Insert(kind, number, before) for number, (kind, before) in enumerate(inserted, start=1))
    flag = draw(st.booleans())
    if not resting_nodes(tuple(items), flag):  # only untaken branches: take them
        flag = True
    halt: Halt = draw(st.sampled_from(("no", "no", "halt", "release")))
    stale: Stale = draw(st.sampled_from(("no", "no", "before") if halt != "no" else ("no", "no", "before", "racing")))
    turns = draw(st.integers(0, 60)) if stale == "racing" else 0
    new_variable: NewVariable = draw(st.sampled_from(("no", "default", "mapped")))
    return Scenario(tuple(items), inserts, new_variable, flag, draw(st.booleans()), halt, stale, turns)


def resting_nodes(items: tuple[Item, ...], flag: bool) -> list[str]:
    """The old version's nodes where a run with ``flag`` rests, in order."""
    return [item.node for item in items if item.kind != "branch" or flag]


# ---------------------------------------------------------------- the specs


def _task(name: str, new: bool, with_variable: bool) -> Json:
    args = [var("x")] + ([var(NEW_VARIABLE)] if new and with_variable else [])
    return task(name, *args)


def _item_nodes(item: Item, node: str, new: bool, with_variable: bool) -> list[tuple[str, Json]]:
    n = item.number
    other = "x" if new and item.edit == "change" else ""  # the same node id waiting for something else
    if item.kind == "task":
        return [(node, _task(f"t{n}{other}", new, with_variable))]
    if item.kind == "wait":
        return [(node, wait(f"e{n}{other}"))]
    if item.kind == "form":
        return [(node, user_task(FORM2 if other else FORM, user="ann"))]
    return [
        (f"if{n}", nop(edges=[edge(node, var("flag")), edge(f"join{n}")])),
        (node, _task(f"b{n}", new, with_variable)),
        (f"join{n}", nop()),
    ]


def old_spec(scenario: Scenario) -> WorkflowSpec:
    nodes: list[tuple[str, Json]] = []
    for item in scenario.items:
        nodes.extend(_item_nodes(item, item.node, False, False))
    tasks = [item.node for item in scenario.items if item.kind == "task"]
    nodes.append(("exit", exit_(lst(var("x"), *[out(t) for t in tasks]))))
    return spec(WORKFLOW, nodes, _variables("no"), forms=[APPROVE, APPROVE2])


def new_spec(scenario: Scenario) -> WorkflowSpec:
    nodes: list[tuple[str, Json]] = []
    with_variable = scenario.new_variable != "no"

    def insert(before: int) -> None:
        for added in scenario.inserts:
            if added.before == before:
                node = task(f"n{added.number}", var("x"), *([var(NEW_VARIABLE)] if with_variable else []))
                nodes.append((added.node, node if added.kind == "task" else wait(f"g{added.number}")))

    for index, item in enumerate(scenario.items):
        insert(index)
        if item.edit != "remove":
            renamed = item.edit in ("rename", "unmapped")
            nodes.extend(_item_nodes(item, item.renamed if renamed else item.node, True, with_variable))
    insert(len(scenario.items))
    head = [var("x")] + ([var(NEW_VARIABLE)] if with_variable else [])
    nodes.append(("exit", exit_(lst(*head, *[out(t) for t in output_tasks(scenario)]))))
    return spec(WORKFLOW, nodes, _variables(scenario.new_variable), version=(1, 1), forms=[APPROVE, APPROVE2])


def _variables(new_variable: NewVariable) -> dict[str, Json]:
    found = {"x": variable("str", required=True), "flag": variable("bool", required=True)}
    if new_variable == "default":
        found[NEW_VARIABLE] = variable("str", default=NEW_DEFAULT)
    if new_variable == "mapped":
        found[NEW_VARIABLE] = variable("str", required=True)
    return found


def output_tasks(scenario: Scenario) -> list[str]:
    """The new version's exit lists the outputs of the old chain's tasks it
    kept (by their new ids): a run that ran one before it moved must still
    have its output under the id the new version reads."""
    return [
        item.node if item.edit == "keep" else item.renamed
        for item in scenario.items
        if item.kind == "task" and item.edit in ("keep", "rename")
    ]


def mapping(scenario: Scenario) -> dict[str, Any]:
    """The mapping file: every renamed node that the scenario says is mapped,
    and the new required variable's value."""
    nodes = {item.node: item.renamed for item in scenario.items if item.edit == "rename"}
    values = {NEW_VARIABLE: NEW_MAPPED} if scenario.new_variable == "mapped" else {}
    return {"nodes": {"main": nodes} if nodes else {}, "variables": values}


def stub_result(task_name: str, args: list[Any]) -> str:
    """What every task returns: the same in both versions (the new argument ``v`` is left out)."""
    return f"{task_name}:{args[0]}"


def expected_output(scenario: Scenario) -> list[Any]:
    """The new version's output for the scenario's inputs."""
    head: list[Any] = ["in"] + ([scenario.new_value] if scenario.new_value is not None else [])
    return head + [stub_result(node.removesuffix("-r"), ["in"]) for node in output_tasks(scenario)]


# ---------------------------------------------------------------- what the plan must say


@dataclass(frozen=True)
class Expectation:
    position: str
    """The old node the run rests at when the plan is made."""
    run_class: RunClass
    moves_at: str | None
    """The old node the run rests at when it moves (``None``: it never
    does: it drains, or with ``migrate_later`` it reaches no resting node
    that maps before its exit)."""
    moves_to: str | None
    wait_until: frozenset[str] = frozenset()
    """The gates the plan names (``safe_later``)."""


def target(scenario: Scenario, old_node: str) -> str | None:
    """The new version's node a thread at ``old_node`` moves to (``None``: none)."""
    return target_of(scenario.items, old_node)


def target_of(items: tuple[Item, ...], old_node: str) -> str | None:
    for item in items:
        nodes = {item.node: item.renamed}
        if item.kind == "branch":  # its nops keep their ids: only its task node is renamed
            nodes.update({f"if{item.number}": f"if{item.number}", f"join{item.number}": f"join{item.number}"})
        if old_node in nodes:
            if item.edit == "keep":
                return old_node
            return nodes[old_node] if item.edit == "rename" else None
    raise KeyError(old_node)


def _successors(scenario: Scenario) -> dict[str, list[str]]:
    """The old version's graph, entrypoint and exit left out."""
    order: list[list[str]] = []  # the node each item is entered by, and the nodes after it
    graph: dict[str, list[str]] = {}
    for item in scenario.items:
        if item.kind == "branch":
            n = item.number
            graph[f"if{n}"] = [item.node, f"join{n}"]
            graph[item.node] = [f"join{n}"]
            order.append([f"if{n}", f"join{n}"])
        else:
            order.append([item.node, item.node])
    for here, after in zip(order, [*order[1:], ["exit", "exit"]], strict=True):
        graph[here[1]] = [after[0]]
    return graph


def _gates(scenario: Scenario, start: str) -> set[str]:
    """The first nodes where a run rests that map, on every way forward
    from ``start``; empty when some way reaches the exit first. A branch's
    nops are passed within a step: they are no gates."""
    graph = _successors(scenario)
    frontier, seen, gates = list(graph[start]), {start}, set()
    while frontier:
        node = frontier.pop()
        if node in seen:
            continue
        seen.add(node)
        if node == "exit":
            return set()
        if target(scenario, node) is None or _passed(node):
            frontier.extend(graph[node])
        else:
            gates.add(node)
    return gates


def _passed(node: str) -> bool:
    """A branch's nop (``ifK``, ``joinK``): a thread never rests there."""
    return re.fullmatch(r"(if|join)\d+", node) is not None


def expectation(scenario: Scenario, position: int) -> Expectation:
    """What the plan says of a run resting at the ``position``-th resting
    node of the old version's path, and where the run moves."""
    path = resting_nodes(scenario.items, scenario.flag)
    here = path[position]
    if target(scenario, here) is not None:
        return Expectation(here, "safe_now", here, target(scenario, here))
    gates = _gates(scenario, here)
    if not gates:
        return Expectation(here, "must_drain", None, None)
    if scenario.migrate_later:
        for later in path[position + 1 :]:
            if target(scenario, later) is not None:
                return Expectation(here, "safe_later", later, target(scenario, later), frozenset(gates))
    return Expectation(here, "safe_later", None, None, frozenset(gates))
