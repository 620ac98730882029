"""diff_specs and next_version: every rule of what bumps which version."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from wfc.compiler.diff import InterfaceChange, NodeChange, SpecDiff, diff_specs, next_version
from wfc.specs import (
    BinaryExpr,
    Edge,
    EntrypointNode,
    ExitNode,
    InterruptDef,
    LiteralExpr,
    Mutation,
    Node,
    NopNode,
    OutputRef,
    TaskNode,
    ThreadSpec,
    VariableDef,
    VarRef,
    Version,
    WorkflowSpec,
)


def chain(*middle: tuple[str, Node]) -> dict[str, Node]:
    """entrypoint → each middle node in order → exit."""
    ids = [node_id for node_id, _ in middle] + ["exit"]
    nodes: dict[str, Node] = {"entrypoint": EntrypointNode(edges=[Edge(to=ids[0])])}
    for (node_id, node), following in zip(middle, ids[1:], strict=True):
        nodes[node_id] = msgspec.structs.replace(node, edges=[Edge(to=following)])
    nodes["exit"] = ExitNode(edges=[])
    return nodes


def task(name: str, retries: int | None = 3, **fields: Any) -> TaskNode:
    return TaskNode(task=name, retries=retries, edges=[], **fields)


def make(
    *,
    variables: dict[str, VariableDef] | None = None,
    nodes: dict[str, Node] | None = None,
    output: Any = None,
    extra_threads: dict[str, ThreadSpec] | None = None,
    interrupts: list[InterruptDef] | None = None,
    version: tuple[int, int] = (1, 0),
    name: str = "checkout",
) -> WorkflowSpec:
    main = ThreadSpec(
        nodes=nodes if nodes is not None else chain(("charge-card", task("charge-card"))),
        interrupts=interrupts or [],
    )
    return WorkflowSpec(
        name=name,
        entrypoint="main",
        threads={"main": main, **(extra_threads or {})},
        schema="wfc/2",
        version=Version(major=version[0], revision=version[1]),
        variables=variables if variables is not None else {"order-id": VariableDef(type="str", required=True)},
        output=output,
    )


def str_var(**flags: Any) -> VariableDef:
    return VariableDef(type="str", **flags)


BASE = make()


# --- identical --------------------------------------------------------------------


def test_identical_bodies_need_no_bump() -> None:
    diff = diff_specs(BASE, make())
    assert diff == SpecDiff(interface=(), nodes=(), threads_added=(), threads_removed=(), other=(), bump="none")
    assert diff.summary() == "no changes"


def test_version_and_hash_are_ignored() -> None:
    other = msgspec.structs.replace(make(version=(4, 7)), hash="sha256:abc")
    assert diff_specs(BASE, other).bump == "none"


# --- interface: breaking -------------------------------------------------------------


@pytest.mark.parametrize(
    ("old_vars", "new_vars", "description"),
    [
        ({}, {"amount": VariableDef(type="float", required=True)}, "new required variable 'amount' (float)"),
        ({"note": str_var()}, {"note": str_var(required=True)}, "variable 'note' became required"),
        ({"note": str_var()}, {}, "variable 'note' removed"),
        ({"n": VariableDef(type="int")}, {"n": VariableDef(type="float")}, "variable 'n' type int → float"),
    ],
)
def test_breaking_variable_changes_bump_major(
    old_vars: dict[str, VariableDef], new_vars: dict[str, VariableDef], description: str
) -> None:
    diff = diff_specs(make(variables=old_vars), make(variables=new_vars))
    assert diff.interface == (InterfaceChange(description, breaking=True),)
    assert diff.bump == "major"
    assert diff.breaking == diff.interface


@pytest.mark.parametrize(
    ("old", "new", "description"),
    [
        (None, "json", "output added (json)"),
        ("str", None, "output removed (was str)"),
        ("str", "int", "output type str → int"),
    ],
)
def test_output_type_changes_bump_major(old: Any, new: Any, description: str) -> None:
    diff = diff_specs(make(output=old), make(output=new))
    assert diff.interface == (InterfaceChange(description, breaking=True),)
    assert diff.bump == "major"


# --- interface: not breaking ------------------------------------------------------


@pytest.mark.parametrize(
    ("old_vars", "new_vars", "description"),
    [
        ({}, {"note": str_var()}, "new optional variable 'note' (str)"),
        ({"note": str_var(required=True)}, {"note": str_var()}, "variable 'note' became optional"),
        (
            {"note": str_var(default="a")},
            {"note": str_var(default="b")},
            'variable \'note\' default "a" → "b"',
        ),
        ({"note": str_var()}, {"note": str_var(default="b")}, "variable 'note' default none → \"b\""),
        (
            {"note": str_var(default="key-1", masked=True)},
            {"note": str_var(default="key-2", masked=True)},
            "variable 'note' default changed (masked, not shown)",
        ),
        ({"note": str_var()}, {"note": str_var(masked=True)}, "variable 'note' now masked"),
        ({"note": str_var(masked=True)}, {"note": str_var()}, "variable 'note' no longer masked"),
        ({"note": str_var()}, {"note": str_var(searchable=True)}, "variable 'note' now searchable"),
    ],
)
def test_compatible_variable_changes_bump_revision(
    old_vars: dict[str, VariableDef], new_vars: dict[str, VariableDef], description: str
) -> None:
    diff = diff_specs(make(variables=old_vars), make(variables=new_vars))
    assert diff.interface == (InterfaceChange(description, breaking=False),)
    assert diff.bump == "revision"


def test_one_breaking_change_among_compatible_ones_is_major() -> None:
    old = make(variables={"a": str_var(), "b": str_var()})
    new = make(variables={"a": str_var(masked=True), "b": str_var(required=True), "c": str_var()})
    diff = diff_specs(old, new)
    assert [change.breaking for change in diff.interface] == [False, True, False]
    assert diff.bump == "major"


# --- nodes --------------------------------------------------------------------------


def test_added_and_removed_nodes() -> None:
    new = make(nodes=chain(("charge-card", task("charge-card")), ("ship", task("ship"))))
    diff = diff_specs(BASE, new)
    assert NodeChange("main", "ship", "added", "task") in diff.nodes
    assert diff.bump == "revision"
    back = diff_specs(new, BASE)
    assert NodeChange("main", "ship", "removed", "task") in back.nodes


def test_changed_field_shows_old_and_new_value() -> None:
    new = make(nodes=chain(("charge-card", task("charge-card", retries=5))))
    diff = diff_specs(BASE, new)
    assert diff.nodes == (NodeChange("main", "charge-card", "changed", "retries 3 → 5"),)
    assert diff.bump == "revision"


@pytest.mark.parametrize(("before", "after", "detail"), [(3, 0, "retries 3 → 0"), (None, 0, "retries unset → 0"),
                                                         (2, None, "retries 2 → unset")])
def test_unset_retries_are_not_zero(before: int | None, after: int | None, detail: str) -> None:
    old = make(nodes=chain(("charge-card", task("charge-card", retries=before))))
    new = make(nodes=chain(("charge-card", task("charge-card", retries=after))))
    diff = diff_specs(old, new)
    assert diff.nodes == (NodeChange("main", "charge-card", "changed", detail),)
    assert diff.bump == "revision"


def test_changed_kind() -> None:
    new = make(nodes=chain(("charge-card", NopNode(edges=[]))))
    change = diff_specs(BASE, new).nodes[0]
    assert change == NodeChange("main", "charge-card", "changed", "kind task → nop")


def test_changed_arguments_are_printed_as_expressions() -> None:
    old = make(nodes=chain(("charge-card", task("charge-card", args=[VarRef(name="order-id")]))))
    new = make(nodes=chain(("charge-card", task("charge-card", args=[OutputRef(node="x", path=["id"])]))))
    assert diff_specs(old, new).nodes[0].detail == "args (`order-id`) → (@x.id)"


def test_edge_changes() -> None:
    amount = BinaryExpr(op=">", left=VarRef(name="amount"), right=LiteralExpr(value=100))
    bigger = BinaryExpr(op=">", left=VarRef(name="amount"), right=LiteralExpr(value=500))
    bump = Mutation(var="total", op="add", value=LiteralExpr(value=1))

    def spec(*edges: Edge) -> WorkflowSpec:
        nodes = chain(("check", NopNode(edges=[])))
        nodes["check"] = NopNode(edges=list(edges))
        return make(nodes=nodes)

    old = spec(Edge(to="exit", when=amount), Edge(to="entrypoint"))
    details = {
        "condition": spec(Edge(to="exit", when=bigger), Edge(to="entrypoint")),
        "mutation": spec(Edge(to="exit", when=amount), Edge(to="entrypoint", mutations=[bump])),
        "removed": spec(Edge(to="exit", when=amount)),
        "order": spec(Edge(to="entrypoint"), Edge(to="exit", when=amount)),
    }
    found = {key: diff_specs(old, new).nodes[0].detail for key, new in details.items()}
    assert found == {
        "condition": "edge to exit condition amount > 100 → amount > 500",
        "mutation": "edge to entrypoint mutations none → total add 1",
        "removed": "edge to entrypoint removed",
        "order": "edge order changed",
    }
    assert diff_specs(details["removed"], old).nodes[0].detail == "edge to entrypoint added"


# --- threads and other changes ---------------------------------------------------


def handler_thread(**variables: VariableDef) -> ThreadSpec:
    return ThreadSpec(nodes=chain(("undo", task("undo"))), variables=variables)


def test_threads_added_and_removed() -> None:
    new = make(extra_threads={"cancel": handler_thread()})
    diff = diff_specs(BASE, new)
    assert diff.threads_added == ("cancel",)
    assert diff.nodes == ()  # a new thread's nodes are not listed one by one
    assert diff.other == ()
    assert diff.bump == "revision"
    assert diff_specs(new, BASE).threads_removed == ("cancel",)


def test_thread_local_variables_are_not_interface() -> None:
    old = make(extra_threads={"cancel": handler_thread()})
    new = make(extra_threads={"cancel": handler_thread(reason=str_var(required=True))})
    diff = diff_specs(old, new)
    assert diff.interface == ()
    assert diff.other == ("thread cancel variable 'reason' added (str)",)
    assert diff.bump == "revision"
    changed = make(extra_threads={"cancel": handler_thread(reason=VariableDef(type="int"))})
    assert diff_specs(new, changed).other == ("thread cancel variable 'reason' type str → int, became optional",)
    assert diff_specs(new, old).other == ("thread cancel variable 'reason' removed",)


def test_interrupts() -> None:
    threads = {"cancel": handler_thread(), "stop": handler_thread()}
    old = make(extra_threads=threads)
    added = make(extra_threads=threads, interrupts=[InterruptDef(event="cancel-order", thread="cancel")])
    moved = make(extra_threads=threads, interrupts=[InterruptDef(event="cancel-order", thread="stop")])
    assert diff_specs(old, added).other == ("interrupt cancel-order added",)
    assert diff_specs(added, old).other == ("interrupt cancel-order removed",)
    assert diff_specs(added, moved).other == ("interrupt cancel-order thread cancel → stop",)
    assert diff_specs(old, added).bump == "revision"


def test_name_change_is_a_revision() -> None:
    diff = diff_specs(BASE, make(name="checkout-v2"))
    assert diff.other == ("name checkout → checkout-v2",)
    assert diff.bump == "revision"


# --- summary --------------------------------------------------------------------


def test_summary_counts_nodes_and_names_breaking_changes() -> None:
    new = make(
        nodes=chain(("charge-card", task("charge-card", retries=4)), ("a", task("a")), ("b", task("b"))),
        variables={"order-id": str_var(required=True), "amount": VariableDef(type="float", required=True)},
    )
    summary = diff_specs(BASE, new).summary()
    assert summary == "2 nodes added, 1 changed; new required variable 'amount' (float)"


def test_summary_of_threads_and_other_changes() -> None:
    new = make(
        extra_threads={"cancel": handler_thread()},
        interrupts=[InterruptDef(event="cancel-order", thread="cancel")],
    )
    assert diff_specs(BASE, new).summary() == "1 thread added; interrupt cancel-order added"


def test_summary_caps_interface_changes() -> None:
    new = make(variables={"a": str_var(), "b": str_var(), "c": str_var(required=True)})
    summary = diff_specs(make(variables={}), new).summary()
    assert summary == "new required variable 'c' (str); new optional variable 'a' (str); 1 more interface change"


# --- next_version ---------------------------------------------------------------


def test_first_version() -> None:
    assert next_version(None, BASE) == Version(major=1, revision=0)


def test_unchanged_keeps_version() -> None:
    assert next_version(make(version=(2, 3)), BASE) == Version(major=2, revision=3)


def test_revision_bump() -> None:
    new = make(nodes=chain(("charge-card", task("charge-card", retries=9))))
    assert next_version(make(version=(2, 3)), new) == Version(major=2, revision=4)


def test_major_bump_resets_revision() -> None:
    new = make(variables={"order-id": str_var(required=True), "amount": VariableDef(type="float", required=True)})
    assert next_version(make(version=(2, 3)), new) == Version(major=3, revision=0)
