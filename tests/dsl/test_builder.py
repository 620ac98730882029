"""Every builder verb of the DSL, checked through the spec it compiles to.

Each test records a small workflow function, compiles it and looks at the
nodes, edges, variables and expressions the verb produced. Every compiled
spec must survive ``loads(dumps(spec))``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from wfc.dsl import (
    ENTRYPOINT_THREAD,
    Backoff,
    Expression,
    IfChain,
    NodeOutput,
    SpawnedThread,
    ThreadStrategy,
    VariableHandle,
    Workflow,
    WorkflowThread,
)
from wfc.specs import (
    BinaryExpr,
    CompensateNode,
    Compensation,
    Edge,
    EntrypointNode,
    ExitNode,
    Expr,
    FailNode,
    FailureHandler,
    InterruptDef,
    ListExpr,
    LiteralExpr,
    Mutation,
    Node,
    NopNode,
    OutputRef,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    UnaryExpr,
    VariableDef,
    VarRef,
    WaitForEventNode,
    WaitForThreadsNode,
    WorkflowSpec,
    dumps,
    format_expr,
    loads,
)

# --- helpers -------------------------------------------------------------------------


def build(fn: Any, name: str = "flow") -> WorkflowSpec:
    """Compile ``fn`` as a workflow and check the spec survives its JSON form."""
    spec = Workflow(name, fn).compile()
    assert loads(dumps(spec)) == spec
    return spec


def nodes(spec: WorkflowSpec, thread: str = "main") -> dict[str, Node]:
    return spec.threads[thread].nodes


def edge(spec: WorkflowSpec, node_id: str, thread: str = "main") -> Edge:
    """The single edge leaving ``node_id``."""
    edges = nodes(spec, thread)[node_id].edges
    assert len(edges) == 1, edges
    return edges[0]


def path(spec: WorkflowSpec, thread: str = "main") -> list[str]:
    """Node ids from the entrypoint along single edges to the end."""
    found = ["entrypoint"]
    graph = nodes(spec, thread)
    while graph[found[-1]].edges:
        following = graph[found[-1]].edges
        assert len(following) == 1, f"{found[-1]} branches: {following}"
        found.append(following[0].to)
    return found


def steps(*tasks: str) -> Callable[[WorkflowThread], None]:
    """A thread body that runs ``tasks`` in order and returns nothing."""

    def body(t: WorkflowThread) -> None:
        for task in tasks:
            t.execute(task)

    return body


def var(name: str, *segments: str | int) -> VarRef:
    return VarRef(name=name, path=list(segments))


def out(node: str, *segments: str | int) -> OutputRef:
    return OutputRef(node=node, path=list(segments))


def lit(value: Any) -> LiteralExpr:
    return LiteralExpr(value=value)


def binary(op: str, left: Expr, right: Expr) -> BinaryExpr:
    return BinaryExpr(op=op, left=left, right=right)  # type: ignore[arg-type]


# --- Workflow and WorkflowThread ---------------------------------------------------------


def test_workflow_keeps_its_name_and_function() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")

    workflow = Workflow("checkout", flow)
    assert workflow.name == "checkout"
    assert workflow.fn is flow
    assert repr(workflow) == "Workflow('checkout', 'test_workflow_keeps_its_name_and_function.<locals>.flow')"


def test_constructing_a_workflow_does_not_run_its_function() -> None:
    calls: list[str] = []
    Workflow("lazy", lambda wf: calls.append("ran"))
    assert calls == []


def test_every_compile_runs_the_function_once_with_a_fresh_builder() -> None:
    builders: list[WorkflowThread] = []

    def flow(wf: WorkflowThread) -> None:
        builders.append(wf)
        wf.execute("a")

    workflow = Workflow("fresh", flow)
    first = workflow.compile()
    second = workflow.compile()
    assert len(builders) == 2
    assert builders[0] is not builders[1]
    assert first == second


def test_the_workflow_function_gets_the_entrypoint_thread() -> None:
    names: list[str] = []
    spec = build(lambda wf: names.append(wf.name))
    assert names == [ENTRYPOINT_THREAD] == ["main"]
    assert spec.entrypoint == "main"
    assert spec.name == "flow"
    assert spec.schema == "wfc/2"


def test_an_empty_workflow_is_entrypoint_then_exit() -> None:
    spec = build(lambda wf: None)
    assert list(spec.threads) == ["main"]
    assert nodes(spec) == {
        "entrypoint": EntrypointNode(edges=[Edge(to="exit")]),
        "exit": ExitNode(edges=[]),
    }
    assert spec.variables == {}
    assert spec.output is None


def test_steps_are_chained_in_call_order() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        wf.execute("b")
        wf.execute("c")

    assert path(build(flow)) == ["entrypoint", "a", "b", "c", "exit"]


# --- variables ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["str", "int", "float", "bool", "json"])
def test_declare_each_type(kind: str) -> None:
    handles: list[VariableHandle] = []

    def flow(wf: WorkflowThread) -> None:
        handles.append(getattr(wf, f"declare_{kind}")("v"))

    spec = build(flow)
    assert spec.variables == {"v": VariableDef(type=kind)}  # type: ignore[arg-type]
    (handle,) = handles
    assert isinstance(handle, VariableHandle)
    assert handle.name == "v"
    assert handle.expr == var("v")


def test_variable_options_chain_and_lower() -> None:
    handles: list[VariableHandle] = []

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        handles.append(order)
        assert order.required() is order
        assert order.searchable() is order
        card = wf.declare_str("card")
        assert card.masked() is card  # masked and searchable together are refused (an index holds values)
        wf.declare_int("attempts").default(0)
        wf.declare_float("limit").default(99.5).searchable()
        wf.declare_bool("vip").default(False)
        wf.declare_json("items").default([{"sku": "a", "qty": 1}]).masked()
        wf.declare_json("meta").default({"k": ["v", None, 1.5, True]})

    spec = build(flow)
    assert spec.variables == {
        "order-id": VariableDef(type="str", required=True, searchable=True),
        "card": VariableDef(type="str", masked=True),
        "attempts": VariableDef(type="int", default=0),
        "limit": VariableDef(type="float", default=99.5, searchable=True),
        "vip": VariableDef(type="bool", default=False),
        "items": VariableDef(type="json", default=[{"sku": "a", "qty": 1}], masked=True),
        "meta": VariableDef(type="json", default={"k": ["v", None, 1.5, True]}),
    }


def test_default_returns_the_handle_and_tuples_become_lists() -> None:
    def flow(wf: WorkflowThread) -> None:
        tags = wf.declare_json("tags")
        assert tags.default(("a", ("b", 1))) is tags

    assert build(flow).variables["tags"].default == ["a", ["b", 1]]


def test_float_variable_accepts_an_int_default() -> None:
    spec = build(lambda wf: wf.declare_float("total").default(0))
    assert spec.variables["total"] == VariableDef(type="float", default=0)


def test_variable_lookup_returns_a_handle_to_the_declared_variable() -> None:
    found: list[VariableHandle] = []

    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("order-id")
        found.append(wf.variable("order-id"))
        wf.execute("a", wf.variable("order-id"))

    spec = build(flow)
    assert found[0].name == "order-id"
    task = nodes(spec)["a"]
    assert isinstance(task, TaskNode)
    assert task.args == [var("order-id")]


def test_variable_names_may_hold_dashes_dots_and_colons() -> None:
    spec = build(lambda wf: [wf.declare_str(n) for n in ("order-id", "a.b", "ns:key", "_x")])
    assert sorted(spec.variables) == ["_x", "a.b", "ns:key", "order-id"]


# --- mutations ---------------------------------------------------------------------------


def test_assign_goes_on_the_edge_leaving_the_node_it_follows() -> None:
    def flow(wf: WorkflowThread) -> None:
        status = wf.declare_str("status")
        wf.execute("a")
        status.assign("paid")
        wf.execute("b")

    spec = build(flow)
    assert edge(spec, "a") == Edge(to="b", mutations=[Mutation(var="status", op="assign", value=lit("paid"))])
    assert edge(spec, "entrypoint") == Edge(to="a")
    assert edge(spec, "b") == Edge(to="exit")


def test_mutation_before_the_first_step_is_on_the_entrypoint_edge() -> None:
    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        count.assign(1)
        wf.execute("a")

    spec = build(flow)
    assert edge(spec, "entrypoint").mutations == [Mutation(var="count", op="assign", value=lit(1))]


def test_mutation_after_the_last_step_is_on_the_edge_to_exit() -> None:
    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        wf.execute("a")
        wf.mutate(count, "add", 1)

    spec = build(flow)
    assert edge(spec, "a") == Edge(to="exit", mutations=[Mutation(var="count", op="add", value=lit(1))])


def test_several_mutations_keep_their_order() -> None:
    def flow(wf: WorkflowThread) -> None:
        total = wf.declare_float("total")
        items = wf.declare_json("items")
        charge = wf.execute("charge")
        total.assign(charge["amount"])
        wf.mutate(total, "multiply", 2)
        wf.mutate(items, "append", charge["id"])
        wf.mutate(total, "subtract", total / 4)

    spec = build(flow)
    assert edge(spec, "charge").mutations == [
        Mutation(var="total", op="assign", value=out("charge", "amount")),
        Mutation(var="total", op="multiply", value=lit(2)),
        Mutation(var="items", op="append", value=out("charge", "id")),
        Mutation(var="total", op="subtract", value=binary("/", var("total"), lit(4))),
    ]


@pytest.mark.parametrize(
    ("kind", "op", "value"),
    [
        ("int", "assign", 3),
        ("int", "add", 1),
        ("int", "subtract", 1),
        ("int", "multiply", 2),
        ("float", "divide", 2),
        ("str", "add", "-suffix"),
        ("json", "append", "x"),
        ("json", "extend", ["x", "y"]),
        ("json", "remove", "x"),
        ("json", "remove_key", "k"),
    ],
)
def test_every_mutation_op(kind: str, op: str, value: Any) -> None:
    def flow(wf: WorkflowThread) -> None:
        handle = getattr(wf, f"declare_{kind}")("v")
        wf.execute("a")
        wf.mutate(handle, op, value)

    assert edge(build(flow), "a").mutations == [Mutation(var="v", op=op, value=lit(value))]  # type: ignore[arg-type]


def test_mutate_accepts_a_string_enum_op() -> None:
    class Op(enum.StrEnum):
        ADD = "add"

    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        wf.execute("a")
        wf.mutate(count, Op.ADD, 1)

    assert edge(build(flow), "a").mutations == [Mutation(var="count", op="add", value=lit(1))]


def test_assign_an_expression_over_variables() -> None:
    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        wf.execute("a")
        count.assign(count * 2 + 1)

    assert edge(build(flow), "a").mutations == [
        Mutation(var="count", op="assign", value=binary("+", binary("*", var("count"), lit(2)), lit(1)))
    ]


def test_assign_returns_nothing() -> None:
    results: list[object] = []

    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        results.append(count.assign(1))
        results.append(wf.mutate(count, "add", 1))

    build(flow)
    assert results == [None, None]


# --- tasks ---------------------------------------------------------------------------------


def test_execute_lowers_to_a_task_node() -> None:
    outputs: list[NodeOutput] = []

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        amount = wf.declare_float("amount")
        outputs.append(wf.execute("charge-card", order, amount, "EUR", 3, None, retries=3, timeout=30))

    spec = build(flow)
    assert nodes(spec)["charge-card"] == TaskNode(
        task="charge-card",
        args=[var("order-id"), var("amount"), lit("EUR"), lit(3), lit(None)],
        retries=3,
        timeout=30.0,
        edges=[Edge(to="exit")],
    )
    (output,) = outputs
    assert isinstance(output, NodeOutput)
    assert output.node_id == "charge-card"
    assert output.expr == out("charge-card")


def test_execute_defaults() -> None:
    spec = build(steps("a"))
    task = nodes(spec)["a"]
    assert task == TaskNode(task="a", edges=[Edge(to="exit")])
    assert isinstance(task, TaskNode) and task.retries is None
    assert isinstance(task, TaskNode)
    assert task.backoff is None
    assert task.timeout is None
    assert task.compensation is None
    assert task.handlers == []


def test_execute_with_zero_retries_turns_retries_off() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a", retries=0)

    task = nodes(build(flow))["a"]
    assert isinstance(task, TaskNode) and task.retries == 0
    spec = build(steps("a"))
    task = nodes(spec)["a"]
    assert isinstance(task, TaskNode) and task.retries is None


def test_execute_with_backoff() -> None:
    backoff = Backoff(initial=0.5, multiplier=3.0, maximum=10.0)

    def flow(wf: WorkflowThread) -> None:
        wf.execute("a", retries=5, backoff=backoff, timeout=2.5)

    spec = build(flow)
    task = nodes(spec)["a"]
    assert isinstance(task, TaskNode)
    assert (task.retries, task.backoff, task.timeout) == (5, backoff, 2.5)


def test_json_arguments_are_literals() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a", {"k": [1, 2.5, "x", None, True]}, ("t", 1), [], {})

    task = nodes(build(flow))["a"]
    assert isinstance(task, TaskNode)
    assert task.args == [lit({"k": [1, 2.5, "x", None, True]}), lit(["t", 1]), lit([]), lit({})]


def test_a_list_mixing_handles_and_values_is_a_list_expression() -> None:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        first = wf.execute("first")
        wf.execute("second", [order, "x", first["id"], [1, 2]])

    task = nodes(build(flow))["second"]
    assert isinstance(task, TaskNode)
    assert task.args == [ListExpr(items=[var("order-id"), lit("x"), out("first", "id"), lit([1, 2])])]


def test_output_fields_indexes_and_json_paths() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.execute(
            "use",
            charge["payment"],
            charge["payment"]["id"],
            charge[0],
            charge.json_path("$.a.b[2]"),
            charge.json_path("$['x-y'][0].z"),
            charge.json_path("$"),
            charge["a"].json_path("$.b")[1],
        )

    task = nodes(build(flow))["use"]
    assert isinstance(task, TaskNode)
    assert task.args == [
        out("charge", "payment"),
        out("charge", "payment", "id"),
        out("charge", 0),
        out("charge", "a", "b", 2),
        out("charge", "x-y", 0, "z"),
        out("charge"),
        out("charge", "a", "b", 1),
    ]


def test_variable_fields_and_json_paths() -> None:
    def flow(wf: WorkflowThread) -> None:
        cart = wf.declare_json("cart")
        wf.execute("use", cart["items"][0]["sku"], cart.json_path("$.total"))

    task = nodes(build(flow))["use"]
    assert isinstance(task, TaskNode)
    assert task.args == [var("cart", "items", 0, "sku"), var("cart", "total")]


def test_indexing_does_not_change_the_handle() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        charge["a"]
        charge.json_path("$.b")
        wf.execute("use", charge)

    task = nodes(build(flow))["use"]
    assert isinstance(task, TaskNode)
    assert task.args == [out("charge")]


def test_compensate_with_registers_the_undo_task() -> None:
    returned: list[object] = []

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        charge = wf.execute("charge-card", order, retries=3)
        returned.append(charge)
        returned.append(charge.compensate_with("refund-card", order, charge["payment_id"]))
        wf.execute("ship").compensate_with("cancel-shipment", retries=7)

    spec = build(flow)
    charge = nodes(spec)["charge-card"]
    assert isinstance(charge, TaskNode)
    assert charge.compensation == Compensation(
        task="refund-card", args=[var("order-id"), out("charge-card", "payment_id")], retries=3
    )
    ship = nodes(spec)["ship"]
    assert isinstance(ship, TaskNode)
    assert ship.compensation == Compensation(task="cancel-shipment", args=[], retries=7)
    assert returned[0] is returned[1]


def test_compensate_with_later_in_the_workflow_still_attaches_to_its_node() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge-card")
        wf.execute("ship")
        charge.compensate_with("refund-card")

    spec = build(flow)
    charge = nodes(spec)["charge-card"]
    assert isinstance(charge, TaskNode)
    assert charge.compensation == Compensation(task="refund-card")
    assert path(spec) == ["entrypoint", "charge-card", "ship", "exit"]


# --- expressions and conditions -----------------------------------------------------------


CONDITIONS: list[tuple[str, Any, str, dict[str, str]]] = [
    # (id, python form, string form, keyword bindings by handle name)
    ("and", lambda h: (h["auth"]["approved"] == True) & (h["amount"] > 100),  # noqa: E712
     "auth.approved == true and amount > 100", {"auth": "auth"}),
    ("or-not", lambda h: (h["amount"] > 100) | ~(h["status"] == "new"), "amount > 100 or not status == 'new'", {}),
    ("not-in", lambda h: ~h["status"].is_in(h["tags"]), "status not in tags", {}),
    ("contains", lambda h: h["tags"].contains("x"), "'x' in tags", {}),
    ("arithmetic", lambda h: h["amount"] * 2 + 1 >= 10, "amount * 2 + 1 >= 10", {}),
    ("reflected", lambda h: (1 - h["amount"] > 0) & (2 * h["amount"] < 9) & (10 / h["amount"] <= 1),
     "1 - amount > 0 and 2 * amount < 9 and 10 / amount <= 1", {}),
    ("negation", lambda h: -h["amount"] < 0, "-amount < 0", {}),
    ("modulo", lambda h: h["amount"] % 2 == 0, "amount % 2 == 0", {}),
    ("quoted-name", lambda h: h["order"] == "x", "`order-id` == 'x'", {}),
    ("fields", lambda h: h["tags"]["a"]["b"] == 1, "tags.a.b == 1", {}),
    ("json-path", lambda h: h["tags"].json_path("$.a.b") == 1, "tags['a']['b'] == 1", {}),
    ("null", lambda h: h["tags"][0] != None, "tags[0] != null", {}),  # noqa: E711
    ("node-ref", lambda h: h["auth"].json_path("$.x[1]") > 0, "@auth.x[1] > 0", {}),
    ("bound-output", lambda h: h["auth"]["score"] > h["amount"], "a.score > amount", {"a": "auth"}),
    ("chain-of-and", lambda h: (h["amount"] / 2 <= 3) & (h["amount"] != 4) & (h["status"] < "m"),
     "amount / 2 <= 3 and amount != 4 and status < 'm'", {}),
    ("radd", lambda h: 1 + h["amount"] > 2, "1 + amount > 2", {}),
    ("rand-ror", lambda h: True & (h["amount"] > 1) | False, "true and amount > 1 or false", {}),
]


@pytest.mark.parametrize(("python", "text", "bindings"), [c[1:] for c in CONDITIONS], ids=[c[0] for c in CONDITIONS])
def test_python_operators_and_condition_strings_give_the_same_ast(
    python: Any, text: str, bindings: dict[str, str]
) -> None:
    pairs: list[tuple[Expression, Expression]] = []

    def flow(wf: WorkflowThread) -> None:
        handles: dict[str, Any] = {
            "amount": wf.declare_float("amount"),
            "status": wf.declare_str("status"),
            "order": wf.declare_str("order-id"),
            "tags": wf.declare_json("tags"),
            "auth": wf.execute("auth"),
        }
        condition = wf.condition(text, **{key: handles[value] for key, value in bindings.items()})
        operators = python(handles)
        pairs.append((operators, condition))
        wf.do_if(operators, lambda t: t.execute("one"))
        wf.do_if(condition, lambda t: t.execute("two"))

    spec = build(flow)
    ((operators, condition),) = pairs
    assert isinstance(operators, Expression)
    assert operators.expr == condition.expr, (format_expr(operators.expr), format_expr(condition.expr))
    assert nodes(spec)["if"].edges[0].when == nodes(spec)["if-2"].edges[0].when


def test_constant_list_is_the_same_ast_in_both_forms() -> None:
    pairs: list[tuple[Expression, Expression]] = []

    def flow(wf: WorkflowThread) -> None:
        status = wf.declare_str("status")
        pairs.append((status.is_in(["a", "b"]), wf.condition("status in ['a', 'b']")))

    build(flow)
    ((operators, condition),) = pairs
    assert operators.expr == condition.expr


def test_python_operators_build_the_expected_tree() -> None:
    exprs: list[Expression] = []

    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_float("amount")
        status = wf.declare_str("status")
        exprs.append((amount > 100) & ~(status == "new") | (amount <= 0))

    build(flow)
    assert exprs[0].expr == binary(
        "or",
        binary("and", binary(">", var("amount"), lit(100)),
               UnaryExpr(op="not", operand=binary("==", var("status"), lit("new")))),
        binary("<=", var("amount"), lit(0)),
    )


def test_condition_binds_values_and_outputs_by_keyword() -> None:
    exprs: list[Expression] = []

    def flow(wf: WorkflowThread) -> None:
        wf.declare_float("amount")
        auth = wf.execute("auth")
        exprs.append(wf.condition("amount > limit and a.ok", limit=250, a=auth))

    build(flow)
    assert exprs[0].expr == binary(
        "and", binary(">", var("amount"), lit(250)), out("auth", "ok")
    )


def test_condition_keeps_its_text() -> None:
    exprs: list[Expression] = []

    def flow(wf: WorkflowThread) -> None:
        wf.declare_float("amount")
        exprs.append(wf.condition("amount   >  100"))

    build(flow)
    assert exprs[0].parsed is not None
    assert exprs[0].parsed.text == "amount   >  100"
    assert "amount > 100" in repr(exprs[0])


# --- do_if ---------------------------------------------------------------------------------


def test_do_if_graph() -> None:
    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_float("amount")
        wf.execute("before")
        wf.do_if(amount > 100, lambda t: t.execute("fraud-check"))
        wf.execute("after")

    spec = build(flow)
    graph = nodes(spec)
    assert edge(spec, "before") == Edge(to="if")
    assert graph["if"] == NopNode(edges=[
        Edge(to="fraud-check", when=binary(">", var("amount"), lit(100))),
        Edge(to="end-if"),
    ])
    assert edge(spec, "fraud-check") == Edge(to="end-if")
    assert graph["end-if"] == NopNode(edges=[Edge(to="after")])
    assert edge(spec, "after") == Edge(to="exit")


def test_do_if_returns_an_if_chain() -> None:
    chains: list[object] = []

    def flow(wf: WorkflowThread) -> None:
        chain = wf.do_if(wf.condition("true"), lambda t: None)
        chains.append(chain)
        chains.append(chain.do_elif(wf.condition("false"), lambda t: None))

    build(flow)
    assert isinstance(chains[0], IfChain)
    assert chains[1] is chains[0]


def test_do_if_elif_else_edges_in_order_with_else_last() -> None:
    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_float("amount")
        (
            wf.do_if(amount > 1000, lambda t: t.execute("manual-review"))
            .do_elif(amount > 100, lambda t: t.execute("fraud-check"))
            .do_elif(wf.condition("amount > 10"), lambda t: t.execute("light-check"))
            .do_else(lambda t: t.execute("no-check"))
        )
        wf.execute("after")

    spec = build(flow)
    graph = nodes(spec)
    assert graph["if"] == NopNode(edges=[
        Edge(to="manual-review", when=binary(">", var("amount"), lit(1000))),
        Edge(to="fraud-check", when=binary(">", var("amount"), lit(100))),
        Edge(to="light-check", when=binary(">", var("amount"), lit(10))),
        Edge(to="no-check"),
    ])
    for branch in ("manual-review", "fraud-check", "light-check", "no-check"):
        assert edge(spec, branch) == Edge(to="end-if")
    assert graph["end-if"] == NopNode(edges=[Edge(to="after")])


def test_do_if_without_else_falls_back_to_the_join() -> None:
    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_float("amount")
        wf.do_if(amount > 1, lambda t: t.execute("a")).do_elif(amount > 0, lambda t: t.execute("b"))

    graph = nodes(build(flow))
    assert [e.to for e in graph["if"].edges] == ["a", "b", "end-if"]
    assert graph["if"].edges[-1].when is None
    assert all(e.when is not None for e in graph["if"].edges[:-1])


def test_empty_branches_go_straight_to_the_join() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        wf.do_if(flag, lambda t: None).do_else(lambda t: None)

    graph = nodes(build(flow))
    assert graph["if"] == NopNode(edges=[Edge(to="end-if", when=var("flag")), Edge(to="end-if")])


def test_branch_bodies_get_the_same_thread_and_may_chain_steps() -> None:
    seen: list[WorkflowThread] = []

    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")

        def body(t: WorkflowThread) -> None:
            seen.append(t)
            t.execute("a")
            t.execute("b")

        wf.do_if(flag, body)
        seen.append(wf)

    spec = build(flow)
    assert seen[0] is seen[1]
    assert edge(spec, "a") == Edge(to="b")
    assert edge(spec, "b") == Edge(to="end-if")


def test_mutation_inside_a_branch_stays_in_the_branch() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        status = wf.declare_str("status")
        wf.do_if(flag, lambda t: status.assign("flagged")).do_else(lambda t: t.execute("x"))
        status.assign("done")

    graph = nodes(build(flow))
    assert graph["if"].edges == [
        Edge(to="end-if", when=var("flag"), mutations=[Mutation(var="status", op="assign", value=lit("flagged"))]),
        Edge(to="x"),
    ]
    assert graph["end-if"].edges == [
        Edge(to="exit", mutations=[Mutation(var="status", op="assign", value=lit("done"))])
    ]


def test_nested_ifs_get_numbered_ids() -> None:
    def flow(wf: WorkflowThread) -> None:
        a = wf.declare_bool("a")
        b = wf.declare_bool("b")
        wf.do_if(a, lambda t: t.do_if(b, lambda u: u.execute("inner")))
        wf.do_if(b, lambda t: t.execute("second"))

    graph = nodes(build(flow))
    assert graph["if"].edges == [Edge(to="if-2", when=var("a")), Edge(to="end-if-2")]
    assert graph["if-2"].edges == [Edge(to="inner", when=var("b")), Edge(to="end-if")]
    assert graph["inner"].edges == [Edge(to="end-if")]
    assert graph["end-if"].edges == [Edge(to="end-if-2")]
    assert graph["end-if-2"].edges == [Edge(to="if-3")]
    assert graph["if-3"].edges == [Edge(to="second", when=var("b")), Edge(to="end-if-3")]


def test_a_branch_that_fails_does_not_reach_the_join() -> None:
    def flow(wf: WorkflowThread) -> None:
        ok = wf.declare_bool("ok")
        wf.do_if(~ok, lambda t: t.fail("rejected", "not ok"))
        wf.execute("after")

    graph = nodes(build(flow))
    assert graph["if"].edges == [
        Edge(to="fail-rejected", when=UnaryExpr(op="not", operand=var("ok"))),
        Edge(to="end-if"),
    ]
    assert graph["fail-rejected"] == FailNode(failure="rejected", message="not ok", edges=[])


# --- do_while -------------------------------------------------------------------------------


def test_do_while_loops_back_to_its_nop() -> None:
    def flow(wf: WorkflowThread) -> None:
        attempts = wf.declare_int("attempts").default(0)
        wf.execute("before")
        wf.do_while(attempts < 3, lambda t: [t.execute("poll"), attempts.assign(attempts + 1)])
        wf.execute("after")

    spec = build(flow)
    graph = nodes(spec)
    assert edge(spec, "before") == Edge(to="while")
    assert graph["while"] == NopNode(edges=[
        Edge(to="poll", when=binary("<", var("attempts"), lit(3))),
        Edge(to="after"),
    ])
    assert graph["poll"].edges == [Edge(to="while", mutations=[
        Mutation(var="attempts", op="assign", value=binary("+", var("attempts"), lit(1)))
    ])]
    assert edge(spec, "after") == Edge(to="exit")


def test_do_while_with_a_string_condition_and_several_steps() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_bool("pending").default(True)

        def body(t: WorkflowThread) -> None:
            t.execute("a")
            t.sleep(5)
            t.execute("b")

        wf.do_while(wf.condition("pending"), body)

    graph = nodes(build(flow))
    assert graph["while"].edges == [Edge(to="a", when=var("pending")), Edge(to="exit")]
    assert [e.to for e in graph["a"].edges] == ["sleep"]
    assert [e.to for e in graph["sleep"].edges] == ["b"]
    assert [e.to for e in graph["b"].edges] == ["while"]


def test_do_while_returns_nothing() -> None:
    results: list[object] = []

    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        results.append(wf.do_while(flag, lambda t: t.execute("a")))

    build(flow)
    assert results == [None]


def test_do_while_with_an_if_inside() -> None:
    def flow(wf: WorkflowThread) -> None:
        n = wf.declare_int("n").default(0)
        wf.do_while(n < 5, lambda t: t.do_if(n > 2, lambda u: u.execute("big")))

    graph = nodes(build(flow))
    assert graph["while"].edges == [Edge(to="if", when=binary("<", var("n"), lit(5))), Edge(to="exit")]
    assert graph["end-if"].edges == [Edge(to="while")]


# --- waiting ----------------------------------------------------------------------------------


def test_wait_for_event() -> None:
    outputs: list[NodeOutput] = []

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        payment = wf.wait_for_event("payment-confirmed", timeout=3600, correlation=order)
        outputs.append(payment)
        wf.execute("ship", payment["amount"])
        wf.wait_for_event("other")

    spec = build(flow)
    graph = nodes(spec)
    assert graph["wait-payment-confirmed"] == WaitForEventNode(
        event="payment-confirmed", timeout=3600.0, correlation=var("order-id"), edges=[Edge(to="ship")]
    )
    assert graph["wait-other"] == WaitForEventNode(event="other", edges=[Edge(to="exit")])
    ship = graph["ship"]
    assert isinstance(ship, TaskNode)
    assert ship.args == [out("wait-payment-confirmed", "amount")]
    assert outputs[0].node_id == "wait-payment-confirmed"


def test_sleep_with_a_number_and_a_handle() -> None:
    def flow(wf: WorkflowThread) -> None:
        delay = wf.declare_int("delay").default(60)
        wf.sleep(30)
        wf.sleep(1.5)
        wf.sleep(delay)

    graph = nodes(build(flow))
    assert graph["sleep"] == SleepNode(seconds=lit(30), edges=[Edge(to="sleep-2")])
    assert graph["sleep-2"] == SleepNode(seconds=lit(1.5), edges=[Edge(to="sleep-3")])
    assert graph["sleep-3"] == SleepNode(seconds=var("delay"), edges=[Edge(to="exit")])


def test_sleep_until() -> None:
    def flow(wf: WorkflowThread) -> None:
        deadline = wf.declare_str("deadline")
        wf.sleep_until("2030-01-01T00:00:00Z")
        wf.sleep_until(deadline)
        wf.sleep_until(1_900_000_000)

    graph = nodes(build(flow))
    assert graph["sleep-until"] == SleepUntilNode(until=lit("2030-01-01T00:00:00Z"), edges=[Edge(to="sleep-until-2")])
    assert graph["sleep-until-2"] == SleepUntilNode(until=var("deadline"), edges=[Edge(to="sleep-until-3")])
    assert graph["sleep-until-3"] == SleepUntilNode(until=lit(1_900_000_000), edges=[Edge(to="exit")])


def test_sleep_returns_nothing() -> None:
    results: list[object] = []
    build(lambda wf: results.extend([wf.sleep(1), wf.sleep_until(5)]))
    assert results == [None, None]


# --- threads ------------------------------------------------------------------------------------


def test_spawn_thread_records_a_child_thread() -> None:
    spawned: list[SpawnedThread] = []
    names: list[str] = []

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id").required()

        def audit(t: WorkflowThread) -> None:
            names.append(t.name)
            who = t.declare_str("who").required()
            level = t.declare_int("level").default(1)
            t.execute("audit", who, level, order)

        spawned.append(wf.spawn_thread(audit, "audit", {"who": order, "level": 2}))

    spec = build(flow)
    assert names == ["audit"]
    assert spawned[0].name == "audit"
    assert isinstance(spawned[0], SpawnedThread)
    assert "audit" in repr(spawned[0])
    assert nodes(spec)["spawn-audit"] == SpawnThreadNode(
        thread="audit", inputs={"who": var("order-id"), "level": lit(2)}, edges=[Edge(to="exit")]
    )
    child = spec.threads["audit"]
    assert child.variables == {
        "who": VariableDef(type="str", required=True),
        "level": VariableDef(type="int", default=1),
    }
    assert path(spec, "audit") == ["entrypoint", "audit", "exit"]
    audit = child.nodes["audit"]
    assert isinstance(audit, TaskNode)
    assert audit.args == [var("who"), var("level"), var("order-id")]
    assert spec.variables == {"order-id": VariableDef(type="str", required=True)}
    assert spec.threads["main"].variables == {}


def test_spawn_thread_without_inputs() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(steps("x"), "bg")

    spec = build(flow)
    assert nodes(spec)["spawn-bg"] == SpawnThreadNode(thread="bg", edges=[Edge(to="exit")])
    assert spec.threads["bg"].variables == {}


def test_spawn_thread_for_each_gives_each_child_an_item_variable() -> None:
    def flow(wf: WorkflowThread) -> None:
        items = wf.declare_json("items").required()

        def ship(t: WorkflowThread) -> None:
            item = t.variable("item")
            t.execute("ship-item", item["sku"], t.variable("warehouse"))

        def ship_child(t: WorkflowThread) -> None:
            t.declare_str("warehouse").required()
            ship(t)

        wf.spawn_thread_for_each(items, ship_child, "ship", inputs={"warehouse": "eu-1"})

    spec = build(flow)
    assert nodes(spec)["spawn-ship"] == SpawnThreadForEachNode(
        thread="ship", items=var("items"), inputs={"warehouse": lit("eu-1")}, edges=[Edge(to="exit")]
    )
    child = spec.threads["ship"]
    assert child.variables == {
        "item": VariableDef(type="json"),
        "warehouse": VariableDef(type="str", required=True),
    }
    task = child.nodes["ship-item"]
    assert isinstance(task, TaskNode)
    assert task.args == [var("item", "sku"), var("warehouse")]


def test_spawn_thread_for_each_with_a_custom_item_variable_and_a_literal_list() -> None:
    def flow(wf: WorkflowThread) -> None:
        def each(t: WorkflowThread) -> None:
            t.execute("x", t.variable("sku"))

        wf.spawn_thread_for_each(["a", "b"], each, "each", item_var="sku")

    spec = build(flow)
    node = nodes(spec)["spawn-each"]
    assert node == SpawnThreadForEachNode(thread="each", items=lit(["a", "b"]), item_var="sku", edges=[Edge(to="exit")])
    assert spec.threads["each"].variables == {"sku": VariableDef(type="json")}


def test_wait_for_threads() -> None:
    outputs: list[NodeOutput] = []

    def flow(wf: WorkflowThread) -> None:
        items = wf.declare_json("items")
        one = wf.spawn_thread(steps("a"), "one")
        many = wf.spawn_thread_for_each(items, steps("b"), "many")
        results = wf.wait_for_threads(one, many)
        outputs.append(results)
        wf.execute("report", results[0])

    spec = build(flow)
    graph = nodes(spec)
    assert graph["wait-for-threads"] == WaitForThreadsNode(
        threads=["spawn-one", "spawn-many"], strategy="ALL", edges=[Edge(to="report")]
    )
    report = graph["report"]
    assert isinstance(report, TaskNode)
    assert report.args == [out("wait-for-threads", 0)]
    assert outputs[0].node_id == "wait-for-threads"
    assert path(spec) == ["entrypoint", "spawn-one", "spawn-many", "wait-for-threads", "report", "exit"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (ThreadStrategy.ALL, "ALL"),
        (ThreadStrategy.FIRST, "FIRST"),
        (ThreadStrategy.ANY, "ANY"),
        ("FIRST", "FIRST"),
        ("ANY", "ANY"),
    ],
)
def test_wait_for_threads_strategies(strategy: Any, expected: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        a = wf.spawn_thread(steps("a"), "a")
        b = wf.spawn_thread(steps("b"), "b")
        wf.wait_for_threads(a, b, strategy=strategy, timeout=60)

    node = nodes(build(flow))["wait-for-threads"]
    assert isinstance(node, WaitForThreadsNode)
    assert (node.strategy, node.timeout) == (expected, 60.0)


def test_thread_strategy_values() -> None:
    assert [s.value for s in ThreadStrategy] == ["ALL", "FIRST", "ANY"]
    assert ThreadStrategy.ALL == "ALL"


def test_child_output_from_return_and_from_complete() -> None:
    def flow(wf: WorkflowThread) -> None:
        def returns(t: WorkflowThread) -> Expression:
            result = t.execute("work")
            return result["value"]

        def completes(t: WorkflowThread) -> None:
            t.execute("work")
            t.complete("done")

        a = wf.spawn_thread(returns, "returns")
        b = wf.spawn_thread(completes, "completes")
        wf.wait_for_threads(a, b)

    spec = build(flow)
    assert spec.threads["returns"].nodes["exit"] == ExitNode(output=out("work", "value"), edges=[])
    assert spec.threads["completes"].nodes["exit"] == ExitNode(output=lit("done"), edges=[])


def test_a_child_thread_may_spawn_its_own_children() -> None:
    def flow(wf: WorkflowThread) -> None:
        def inner(t: WorkflowThread) -> None:
            t.execute("leaf")

        def outer(t: WorkflowThread) -> None:
            child = t.spawn_thread(inner, "inner")
            t.wait_for_threads(child)

        wf.wait_for_threads(wf.spawn_thread(outer, "outer"))

    spec = build(flow)
    assert sorted(spec.threads) == ["inner", "main", "outer"]
    assert path(spec, "outer") == ["entrypoint", "spawn-inner", "wait-for-threads", "exit"]


# --- complete and the output type ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda wf: wf.declare_str("s"), "str"),
        (lambda wf: wf.declare_int("i"), "int"),
        (lambda wf: wf.declare_float("f"), "float"),
        (lambda wf: wf.declare_bool("b"), "bool"),
        (lambda wf: wf.declare_json("j"), "json"),
        (lambda wf: "text", "str"),
        (lambda wf: 5, "int"),
        (lambda wf: 2.5, "float"),
        (lambda wf: True, "bool"),
        (lambda wf: {"a": 1}, "json"),
        (lambda wf: [1, 2], "json"),
        (lambda wf: wf.execute("t"), "json"),
        (lambda wf: wf.execute("t")["field"], "json"),
        (lambda wf: wf.declare_int("i") + 1, "int"),
        (lambda wf: wf.declare_int("i") > 1, "bool"),
    ],
)
def test_output_type_is_inferred_from_complete(make: Any, expected: str) -> None:
    def completes(wf: WorkflowThread) -> None:
        wf.complete(make(wf))

    def returns(wf: WorkflowThread) -> Any:
        return make(wf)

    assert build(completes).output == expected
    assert build(returns).output == expected


def test_no_output_without_complete_or_a_returned_value() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        wf.complete()

    spec = build(flow)
    assert spec.output is None
    assert nodes(spec)["exit"] == ExitNode(edges=[])


def test_complete_ends_the_thread_with_an_exit_node() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        wf.complete("ok")

    spec = build(flow)
    assert path(spec) == ["entrypoint", "a", "exit"]
    assert nodes(spec)["exit"] == ExitNode(output=lit("ok"), edges=[])


def test_complete_in_one_branch_only() -> None:
    def flow(wf: WorkflowThread) -> None:
        total = wf.declare_float("total")
        wf.do_if(total > 100, lambda t: t.complete(total))
        wf.execute("after")

    spec = build(flow)
    graph = nodes(spec)
    assert graph["if"].edges == [Edge(to="exit", when=binary(">", var("total"), lit(100))), Edge(to="end-if")]
    assert graph["exit"] == ExitNode(output=var("total"), edges=[])
    assert edge(spec, "after") == Edge(to="exit-2")
    assert graph["exit-2"] == ExitNode(edges=[])
    assert spec.output == "float"


def test_outputs_of_different_types_in_two_branches_are_json() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        wf.do_if(flag, lambda t: t.complete("yes")).do_else(lambda t: t.complete(0))

    assert build(flow).output == "json"


def test_a_returned_none_is_no_output() -> None:
    spec = build(lambda wf: wf.sleep(1))
    assert spec.output is None


# --- failures ----------------------------------------------------------------------------------


def test_handlers_become_threads_with_a_failure_variable() -> None:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        charge = wf.execute("charge-card", order)

        def on_timeout(t: WorkflowThread) -> None:
            t.execute("alert", t.variable("failure"), order)

        wf.handle_error(charge, on_timeout, error="TIMEOUT")
        wf.handle_error(charge, steps("retry-later"))
        wf.handle_exception(charge, steps("declined"), name="card-declined")
        wf.handle_exception(charge, steps("other"))
        wf.handle_any_failure(charge, steps("anything"))
        wf.execute("after")

    spec = build(flow)
    charge = nodes(spec)["charge-card"]
    assert charge.handlers == [
        FailureHandler(on="error", name="TIMEOUT", thread="charge-card-on-timeout"),
        FailureHandler(on="error", thread="charge-card-on-error"),
        FailureHandler(on="exception", name="card-declined", thread="charge-card-on-card-declined"),
        FailureHandler(on="exception", thread="charge-card-on-exception"),
        FailureHandler(on="any", thread="charge-card-on-failure"),
    ]
    assert charge.edges == [Edge(to="after")]
    for name in ("timeout", "error", "card-declined", "exception", "failure"):
        thread = spec.threads[f"charge-card-on-{name}"]
        assert thread.variables == {"failure": VariableDef(type="json")}
        assert "entrypoint" in thread.nodes
    alert = spec.threads["charge-card-on-timeout"].nodes["alert"]
    assert isinstance(alert, TaskNode)
    assert alert.args == [var("failure"), var("order-id")]


@pytest.mark.parametrize("code", ["TASK_ERROR", "TIMEOUT", "EXPRESSION_ERROR", "CHILD_FAILURE"])
def test_handle_error_for_each_error_code(code: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.handle_error(wf.execute("a"), lambda t: None, error=code)

    spec = build(flow)
    thread = f"a-on-{code.lower()}"
    assert nodes(spec)["a"].handlers == [FailureHandler(on="error", name=code, thread=thread)]
    assert thread in spec.threads


def test_handlers_on_events_and_thread_waits() -> None:
    def flow(wf: WorkflowThread) -> None:
        event = wf.wait_for_event("paid", timeout=10)
        wf.handle_error(event, steps("expired"), error="TIMEOUT")
        child = wf.spawn_thread(lambda t: t.fail("boom", "child failed"), "child")
        waited = wf.wait_for_threads(child)
        wf.handle_exception(waited, lambda t: None, name="boom")

    spec = build(flow)
    assert nodes(spec)["wait-paid"].handlers == [
        FailureHandler(on="error", name="TIMEOUT", thread="wait-paid-on-timeout")
    ]
    assert nodes(spec)["wait-for-threads"].handlers == [
        FailureHandler(on="exception", name="boom", thread="wait-for-threads-on-boom")
    ]


def test_a_handler_declaring_failure_itself_gets_that_variable() -> None:
    def flow(wf: WorkflowThread) -> None:
        def handler(t: WorkflowThread) -> None:
            failure = t.declare_json("failure")
            t.execute("log", failure["message"])

        wf.handle_any_failure(wf.execute("a"), handler)

    spec = build(flow)
    assert spec.threads["a-on-failure"].variables == {"failure": VariableDef(type="json")}


def test_fail_node() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        wf.fail("out-of-stock", "no stock left", content={"order": "x"})

    spec = build(flow)
    assert nodes(spec)["fail-out-of-stock"] == FailNode(
        failure="out-of-stock", message="no stock left", content=lit({"order": "x"}), edges=[]
    )
    assert edge(spec, "a") == Edge(to="fail-out-of-stock")
    assert "exit" not in nodes(spec)


def test_fail_with_a_handle_as_content_and_no_message() -> None:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")
        wf.fail("rejected", content=order)

    assert nodes(build(flow))["fail-rejected"] == FailNode(failure="rejected", content=var("order-id"), edges=[])


def test_compensate_node_ends_the_thread() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("charge").compensate_with("refund")
        wf.compensate()

    spec = build(flow)
    assert nodes(spec)["compensate"] == CompensateNode(edges=[])
    assert path(spec) == ["entrypoint", "charge", "compensate"]
    assert "exit" not in nodes(spec)


def test_compensate_in_a_handler() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge").compensate_with("refund")
        wf.handle_any_failure(wf.execute("ship"), lambda t: t.compensate())
        del charge

    spec = build(flow)
    assert path(spec, "ship-on-failure") == ["entrypoint", "compensate"]


# --- interrupts ------------------------------------------------------------------------------


def test_interrupt_handler_thread_with_an_event_variable() -> None:
    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id")

        def on_cancel(t: WorkflowThread) -> None:
            t.execute("cancel-order", order, t.variable("event")["reason"])

        wf.add_interrupt_handler("cancel-requested", on_cancel)
        wf.add_interrupt_handler("address-changed", steps("update"))
        wf.execute("work")

    spec = build(flow)
    assert spec.threads["main"].interrupts == [
        InterruptDef(event="cancel-requested", thread="interrupt-cancel-requested"),
        InterruptDef(event="address-changed", thread="interrupt-address-changed"),
    ]
    handler = spec.threads["interrupt-cancel-requested"]
    assert handler.variables == {"event": VariableDef(type="json")}
    task = handler.nodes["cancel-order"]
    assert isinstance(task, TaskNode)
    assert task.args == [var("order-id"), var("event", "reason")]
    # the interrupt adds no node to the interrupted thread
    assert path(spec) == ["entrypoint", "work", "exit"]


def test_interrupt_handler_in_a_child_thread() -> None:
    def flow(wf: WorkflowThread) -> None:
        def child(t: WorkflowThread) -> None:
            t.add_interrupt_handler("stop", steps("stop"))
            t.execute("work")

        wf.spawn_thread(child, "child")

    spec = build(flow)
    assert spec.threads["child"].interrupts == [InterruptDef(event="stop", thread="interrupt-stop")]
    assert spec.threads["main"].interrupts == []


def test_add_interrupt_handler_returns_nothing() -> None:
    results: list[object] = []
    build(lambda wf: results.append(wf.add_interrupt_handler("e", lambda t: None)))
    assert results == [None]


# --- a whole workflow ---------------------------------------------------------------------------


def test_the_design_example_compiles() -> None:
    def checkout(wf: WorkflowThread) -> None:
        order_id = wf.declare_str("order-id").required()
        wf.declare_float("amount").required()
        charge = wf.execute("charge-card", order_id, wf.variable("amount"), retries=3)
        charge.compensate_with("refund-card", charge["payment_id"])
        wf.do_if(wf.condition("amount > 100"), lambda t: t.execute("fraud-check", order_id))

    spec = Workflow("checkout", checkout).compile()
    assert loads(dumps(spec)) == spec
    assert edge(spec, "entrypoint") == Edge(to="charge-card")
    assert edge(spec, "charge-card") == Edge(to="if")
    assert nodes(spec)["if"].edges[0].to == "fraud-check"


def test_spec_is_plain_data() -> None:
    def flow(wf: WorkflowThread) -> None:
        items = wf.declare_json("items")
        wf.wait_for_threads(wf.spawn_thread_for_each(items, steps("x"), "each"))

    spec = build(flow)
    # nothing of the builder leaks into the spec: it converts to plain builtins
    assert isinstance(msgspec.to_builtins(spec), dict)
    assert dumps(spec).endswith(b"\n")
