"""``compile_workflow``: a pure function from a workflow to a canonical spec.

Covers purity and byte-stable output, the exact JSON of a small workflow,
the hash, readable and stable node ids, and the graph shapes the compiler
produces for branches, loops, handlers, interrupts and child threads.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from wfc.compiler import CompileError, WfcError, compile_workflow
from wfc.dsl import Backoff, Expression, Workflow, WorkflowThread
from wfc.specs import (
    Edge,
    ExitNode,
    Node,
    TaskNode,
    VariableDef,
    Version,
    WorkflowSpec,
    body_hash,
    dumps,
    first_version,
    loads,
)

# --- workflows used below -------------------------------------------------------------------------


def payment(wf: WorkflowThread) -> Expression:
    order_id = wf.declare_str("order-id").required().searchable()
    amount = wf.declare_float("amount").required()
    status = wf.declare_str("status").default("new")
    charge = wf.execute("charge-card", order_id, amount, retries=3, timeout=30)
    charge.compensate_with("refund-card", charge["payment_id"])
    status.assign("paid")
    wf.do_if(amount > 100, lambda t: t.execute("fraud-check", order_id))
    return charge["payment_id"]


def checkout(wf: WorkflowThread) -> None:
    """Every verb at least once."""
    order_id = wf.declare_str("order-id").required().searchable()
    items = wf.declare_json("items").required()
    card = wf.declare_str("card-token").required().masked()
    amount = wf.declare_float("amount").required()
    status = wf.declare_str("status").default("new")
    attempts = wf.declare_int("attempts").default(0)

    def on_cancel(t: WorkflowThread) -> None:
        t.execute("notify", order_id, t.variable("event"))
        status.assign("cancel-requested")

    wf.add_interrupt_handler("cancel", on_cancel)
    cart = wf.execute("validate-cart", order_id, items, retries=2, timeout=10)
    charge = wf.execute("charge-card", order_id, card, cart["total"], retries=3,
                        backoff=Backoff(initial=1.0, multiplier=2.0, maximum=30.0), timeout=30)
    charge.compensate_with("refund-card", order_id, charge["payment_id"])
    status.assign("paid")
    (
        wf.do_if((amount > 1000) & (status == "paid"), lambda t: t.execute("manual-review", order_id))
        .do_elif(wf.condition("amount > 100"), lambda t: t.execute("fraud-check", order_id))
        .do_else(lambda t: t.sleep(1))
    )

    def ship(t: WorkflowThread) -> Expression:
        result = t.execute("ship-item", t.variable("item"), order_id, retries=5)
        result.compensate_with("cancel-item", result["id"])
        return result["tracking"]

    shipments = wf.wait_for_threads(wf.spawn_thread_for_each(items, ship, "ship"), strategy="ALL", timeout=600)
    wf.handle_exception(shipments, lambda t: t.compensate(), name="out-of-stock")

    def poll(t: WorkflowThread) -> None:
        t.execute("poll-carrier", order_id)
        attempts.assign(attempts + 1)
        t.sleep(60)

    wf.do_while((attempts < 5) & ~(status == "delivered"), poll)
    paid = wf.wait_for_event("delivered", timeout=86400, correlation=order_id)
    wf.handle_error(paid, lambda t: t.fail("not-delivered", "carrier lost it", content=t.variable("failure")),
                    error="TIMEOUT")
    confirmation = wf.execute("send-confirmation", order_id, shipments[0])
    wf.handle_any_failure(confirmation, lambda t: t.execute("log", t.variable("failure")))
    wf.sleep_until("2030-01-01T00:00:00Z")
    wf.complete(status)


def compiled(fn: Callable[[WorkflowThread], Any], name: str = "flow", **kw: Any) -> WorkflowSpec:
    spec = compile_workflow(Workflow(name, fn), **kw)
    assert loads(dumps(spec)) == spec
    return spec


def noop(t: WorkflowThread) -> None:
    """A thread body that does nothing."""


# --- a pure function -------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [payment, checkout], ids=["payment", "checkout"])
def test_compiling_twice_gives_equal_specs_and_identical_bytes(fn: Callable[[WorkflowThread], Any]) -> None:
    workflow = Workflow(fn.__name__, fn)
    first = compile_workflow(workflow)
    second = compile_workflow(workflow)
    assert first == second
    assert dumps(first) == dumps(second)
    assert dumps(compile_workflow(Workflow(fn.__name__, fn))) == dumps(first)


def test_workflow_compile_is_compile_workflow() -> None:
    workflow = Workflow("payment", payment)
    assert workflow.compile() == compile_workflow(workflow)
    previous = workflow.compile()
    assert workflow.compile(previous) == compile_workflow(workflow, previous=previous)


def test_compiling_leaves_the_workflow_unchanged() -> None:
    workflow = Workflow("payment", payment)
    before = (workflow.name, workflow.fn, workflow.source)
    compile_workflow(workflow)
    assert (workflow.name, workflow.fn, workflow.source) == before


@pytest.mark.parametrize("fn", [payment, checkout], ids=["payment", "checkout"])
def test_every_spec_round_trips(fn: Callable[[WorkflowThread], Any]) -> None:
    spec = compile_workflow(Workflow(fn.__name__, fn))
    assert loads(dumps(spec)) == spec
    assert loads(dumps(spec).decode()) == spec
    assert dumps(loads(dumps(spec))) == dumps(spec)


def test_dumps_is_canonical_json() -> None:
    data = dumps(compile_workflow(Workflow("checkout", checkout)))
    assert data.endswith(b"}\n")
    decoded = json.loads(data)
    assert data == (json.dumps(decoded, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def test_the_exact_json_of_a_small_workflow() -> None:
    spec = compile_workflow(Workflow("payment", payment))
    document = json.loads(dumps(spec))
    assert document == {
        "schema": "wfc/2",
        "name": "payment",
        "version": {"major": 1, "revision": 0},
        "hash": spec.hash,
        "entrypoint": "main",
        "output": "json",
        "variables": {
            "order-id": {"type": "str", "required": True, "searchable": True},
            "amount": {"type": "float", "required": True},
            "status": {"type": "str", "default": "new"},
        },
        "threads": {
            "main": {
                "nodes": {
                    "entrypoint": {"kind": "entrypoint", "edges": [{"to": "charge-card"}]},
                    "charge-card": {
                        "kind": "task",
                        "task": "charge-card",
                        "args": [{"kind": "var", "name": "order-id"}, {"kind": "var", "name": "amount"}],
                        "retries": 3,
                        "timeout": 30.0,
                        "compensation": {
                            "task": "refund-card",
                            "args": [{"kind": "output", "node": "charge-card", "path": ["payment_id"]}],
                        },
                        "edges": [{
                            "to": "if",
                            "mutations": [{"var": "status", "op": "assign",
                                           "value": {"kind": "literal", "value": "paid"}}],
                        }],
                    },
                    "if": {
                        "kind": "nop",
                        "edges": [
                            {
                                "to": "fraud-check",
                                "when": {
                                    "kind": "binary",
                                    "op": ">",
                                    "left": {"kind": "var", "name": "amount"},
                                    "right": {"kind": "literal", "value": 100},
                                },
                            },
                            {"to": "end-if"},
                        ],
                    },
                    "fraud-check": {
                        "kind": "task",
                        "task": "fraud-check",
                        "args": [{"kind": "var", "name": "order-id"}],
                        "edges": [{"to": "end-if"}],
                    },
                    "end-if": {"kind": "nop", "edges": [{"to": "exit"}]},
                    "exit": {
                        "kind": "exit",
                        "edges": [],
                        "output": {"kind": "output", "node": "charge-card", "path": ["payment_id"]},
                    },
                }
            }
        },
    }


# --- the hash ----------------------------------------------------------------------------------------


def test_hash_is_sha256_of_the_canonical_body() -> None:
    spec = compile_workflow(Workflow("checkout", checkout))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", spec.hash)
    body = msgspec.structs.replace(spec, version=first_version(), hash="")
    assert spec.hash == "sha256:" + hashlib.sha256(dumps(body)).hexdigest()
    assert spec.hash == body_hash(spec)


def test_hash_does_not_depend_on_the_version() -> None:
    spec = compile_workflow(Workflow("payment", payment))
    later = msgspec.structs.replace(spec, version=Version(major=7, revision=3))
    assert body_hash(later) == spec.hash
    older = msgspec.structs.replace(spec, version=Version(major=4, revision=2), hash="sha256:old")

    def changed(wf: WorkflowThread) -> Expression:
        wf.execute("audit")
        return payment(wf)

    bumped = compile_workflow(Workflow("payment", changed), previous=older)
    assert bumped.version == Version(major=4, revision=3)
    assert bumped.hash == compile_workflow(Workflow("payment", changed)).hash


def test_hash_changes_with_the_body() -> None:
    def other(wf: WorkflowThread) -> Expression:
        result = payment(wf)
        wf.sleep(1)
        return result

    assert compiled(other, "payment").hash != compiled(payment, "payment").hash
    assert compiled(payment, "payment").hash != compiled(payment, "renamed").hash


# --- node ids -------------------------------------------------------------------------------------


def test_node_ids_are_readable_names_of_what_the_node_is() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        wf.execute("charge-card")
        wf.wait_for_event("payment-confirmed")
        wf.sleep(5)
        wf.sleep_until(1_900_000_000)
        kid = wf.spawn_thread(noop, "audit")
        many = wf.spawn_thread_for_each([1], noop, "ship")
        wf.wait_for_threads(kid, many)
        wf.do_if(flag, noop)
        wf.do_while(flag, lambda t: t.execute("poll"))
        wf.do_if(flag, lambda t: t.compensate())
        wf.fail("out-of-stock", "none left")

    assert list(compiled(flow).threads["main"].nodes) == [
        "entrypoint", "charge-card", "wait-payment-confirmed", "sleep", "sleep-until", "spawn-audit", "spawn-ship",
        "wait-for-threads", "if", "end-if", "while", "poll", "if-2", "compensate", "end-if-2", "fail-out-of-stock",
    ]


def test_repeated_steps_are_numbered() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("charge-card")
        wf.execute("ship")
        wf.execute("charge-card")
        wf.execute("charge-card")
        wf.wait_for_event("ok")
        wf.wait_for_event("ok")

    nodes = compiled(flow).threads["main"].nodes
    assert list(nodes) == ["entrypoint", "charge-card", "ship", "charge-card-2", "charge-card-3", "wait-ok",
                           "wait-ok-2", "exit"]
    assert all(node.task == "charge-card" for key, node in nodes.items()  # type: ignore[union-attr]
               if key.startswith("charge-card"))


def test_numbering_skips_ids_already_taken() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("charge-card-2")
        wf.execute("charge-card")
        wf.execute("charge-card")

    assert list(compiled(flow).threads["main"].nodes) == [
        "entrypoint", "charge-card-2", "charge-card", "charge-card-3", "exit"
    ]


@pytest.mark.parametrize(
    ("task", "node_id"),
    [
        ("Charge Card!", "Charge-Card"),
        ("payments/charge v2", "payments-charge-v2"),
        ("billing.charge:v1", "billing.charge:v1"),
        ("  spaced  ", "spaced"),
        ("***", "node"),
        ("caf\u00e9", "caf"),
    ],
)
def test_task_names_are_made_safe_as_ids(task: str, node_id: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute(task)

    nodes = compiled(flow).threads["main"].nodes
    assert node_id in nodes
    assert nodes[node_id].task == task  # type: ignore[union-attr]


def test_tasks_named_like_wfc_nodes_do_not_clash() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("entrypoint")
        wf.execute("exit")
        wf.execute("if")
        wf.do_if(wf.declare_bool("b"), noop)

    nodes = compiled(flow).threads["main"].nodes
    assert list(nodes) == ["entrypoint", "entrypoint-2", "exit", "if", "if-2", "end-if", "exit-2"]
    assert isinstance(nodes["exit"], TaskNode)
    assert isinstance(nodes["exit-2"], ExitNode)


def test_ids_are_per_thread() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("charge-card")
        wf.spawn_thread(lambda t: t.execute("charge-card"), "kid")

    spec = compiled(flow)
    assert "charge-card" in spec.threads["main"].nodes
    assert "charge-card" in spec.threads["kid"].nodes


# --- ids are stable when the workflow grows ----------------------------------------------------------


def shop(
    *, extra: Callable[[WorkflowThread], Any] | None = None, at: str = "", handler: bool = False
) -> Callable[[WorkflowThread], None]:
    """A shop workflow; ``extra`` is recorded right after the step named ``at``;
    ``handler`` adds a handler on ``charge-card``."""

    def flow(wf: WorkflowThread) -> None:
        order = wf.declare_str("order-id").required()
        status = wf.declare_str("status").default("new")
        steps = ["validate-cart", "charge-card", "reserve-inventory", "create-shipment", "send-confirmation"]
        outputs = {}
        for name in steps:
            outputs[name] = wf.execute(name, order, retries=2)
            if name == "charge-card":
                outputs[name].compensate_with("refund-card", outputs[name]["id"])
                status.assign("paid")
            if name == "reserve-inventory":
                wf.do_if(status == "paid", lambda t: t.execute("notify-warehouse", order))
            if name == at and extra is not None:
                extra(wf)
        wf.handle_error(outputs["send-confirmation"], lambda t: t.execute("email-later", order))
        if handler:
            wf.handle_exception(outputs["charge-card"], lambda t: t.fail("declined"), name="card-declined")
        wf.complete(status)

    return flow


def changed_nodes(old: WorkflowSpec, new: WorkflowSpec, thread: str = "main") -> dict[str, tuple[Node, Node]]:
    before, after = old.threads[thread].nodes, new.threads[thread].nodes
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


@pytest.mark.parametrize(
    ("extra", "at", "new_ids", "next_id"),
    [
        (lambda wf: wf.execute("fraud-check"), "charge-card", {"fraud-check"}, "reserve-inventory"),
        (lambda wf: wf.execute("fraud-check"), "validate-cart", {"fraud-check"}, "charge-card"),
        (lambda wf: wf.wait_for_event("approved"), "create-shipment", {"wait-approved"}, "send-confirmation"),
        (lambda wf: wf.sleep(30), "validate-cart", {"sleep"}, "charge-card"),
        (lambda wf: wf.execute("charge-card"), "send-confirmation", {"charge-card-2"}, "exit"),
    ],
    ids=["task-after-charge", "task-after-validate", "event", "sleep", "same-task-again-at-the-end"],
)
def test_adding_a_step_keeps_every_old_id_and_node(
    extra: Callable[[WorkflowThread], Any], at: str, new_ids: set[str], next_id: str
) -> None:
    old = compiled(shop(), "shop")
    new = compiled(shop(extra=extra, at=at), "shop")
    old_nodes, new_nodes = old.threads["main"].nodes, new.threads["main"].nodes
    assert set(old_nodes) <= set(new_nodes)
    assert set(new_nodes) - set(old_nodes) == new_ids
    (added,) = new_ids
    # only the node before the new step changed, and only its edge: it now leads to the new step
    changes = changed_nodes(old, new)
    assert list(changes) == [at]
    before, after = changes[at]
    assert msgspec.structs.replace(after, edges=before.edges) == before
    assert [e.to for e in before.edges] == [next_id]
    assert after.edges == [msgspec.structs.replace(before.edges[0], to=added)]
    assert [e.to for e in new_nodes[added].edges] == [next_id]
    # the other threads are untouched
    for thread in old.threads:
        if thread != "main":
            assert new.threads[thread] == old.threads[thread]


def test_adding_a_branch_keeps_the_ids_of_earlier_branches() -> None:
    def extra(wf: WorkflowThread) -> None:
        wf.do_if(wf.condition("status == 'vip'"), lambda t: t.execute("gift"))

    old = compiled(shop(), "shop")
    new = compiled(shop(extra=extra, at="send-confirmation"), "shop")
    assert set(new.threads["main"].nodes) - set(old.threads["main"].nodes) == {"if-2", "gift", "end-if-2"}
    assert list(changed_nodes(old, new)) == ["send-confirmation"]


def test_adding_a_handler_changes_only_its_node() -> None:
    old = compiled(shop(), "shop")
    new = compiled(shop(handler=True), "shop")
    assert set(new.threads) - set(old.threads) == {"charge-card-on-card-declined"}
    changes = changed_nodes(old, new)
    assert list(changes) == ["charge-card"]
    before, after = changes["charge-card"]
    assert msgspec.structs.replace(after, handlers=[]) == before
    assert [h.thread for h in after.handlers] == ["charge-card-on-card-declined"]


def test_adding_a_variable_or_mutation_renames_nothing() -> None:
    def extra(wf: WorkflowThread) -> None:
        wf.declare_int("count").assign(1)

    old = compiled(shop(), "shop")
    new = compiled(shop(extra=extra, at="charge-card"), "shop")
    assert set(new.threads["main"].nodes) == set(old.threads["main"].nodes)
    assert list(changed_nodes(old, new)) == ["charge-card"]


# --- graph shapes --------------------------------------------------------------------------------------


def test_checkout_graph() -> None:
    spec = compiled(checkout, "checkout")
    main = spec.threads["main"].nodes
    # do_if / do_elif / do_else: one branch nop, conditions in order, else last, one join
    assert [e.to for e in main["if"].edges] == ["manual-review", "fraud-check", "sleep"]
    assert [e.when is None for e in main["if"].edges] == [False, False, True]
    for branch in ("manual-review", "fraud-check", "sleep"):
        assert [e.to for e in main[branch].edges] == ["end-if"]
    # the mutation after charge-card rides on its edge into the if
    assert main["charge-card"].edges[0].to == "if"
    assert [m.var for m in main["charge-card"].edges[0].mutations] == ["status"]
    # do_while: the condition on the edge into the body, a back edge from the body's last step
    assert [e.to for e in main["while"].edges] == ["poll-carrier", "wait-delivered"]
    assert [e.to for e in main["sleep-2"].edges] == ["while"]
    assert [m.var for m in main["poll-carrier"].edges[0].mutations] == ["attempts"]
    # handlers and interrupts are threads with implicit variables
    assert set(spec.threads) == {
        "main", "interrupt-cancel", "ship", "wait-for-threads-on-out-of-stock", "wait-delivered-on-timeout",
        "send-confirmation-on-failure",
    }
    assert spec.threads["interrupt-cancel"].variables == {"event": VariableDef(type="json")}
    assert spec.threads["ship"].variables == {"item": VariableDef(type="json")}
    for handler in ("wait-for-threads-on-out-of-stock", "wait-delivered-on-timeout", "send-confirmation-on-failure"):
        assert spec.threads[handler].variables == {"failure": VariableDef(type="json")}
    # the entrypoint's variables are the workflow's, at the top level
    assert spec.threads["main"].variables == {}
    assert list(spec.variables) == ["order-id", "items", "card-token", "amount", "status", "attempts"]
    assert spec.output == "str"
    ship = spec.threads["ship"].nodes["ship-item"]
    assert isinstance(ship, TaskNode)
    assert ship.compensation is not None and ship.compensation.task == "cancel-item"


def test_compiled_spec_validates() -> None:
    spec = compiled(checkout, "checkout")
    for thread in spec.threads.values():
        for node_id, node in thread.nodes.items():
            for edge in node.edges:
                assert edge.to in thread.nodes, (node_id, edge)
    assert isinstance(spec.threads["main"].nodes["entrypoint"].edges[0], Edge)


# --- errors ----------------------------------------------------------------------------------------------


def test_previous_spec_of_another_workflow() -> None:
    other = compile_workflow(Workflow("other", payment))
    workflow = Workflow("payment", payment)
    with pytest.raises(CompileError) as info:
        compile_workflow(workflow, previous=other)
    (problem,) = info.value.problems
    assert problem.source == str(workflow.source)
    assert problem.message == (
        "the previous spec is of workflow 'other', not 'payment'; compare a workflow only with its own earlier spec"
    )


@pytest.mark.parametrize("previous", ["checkout.json", b"{}", {"name": "payment"}, 1])
def test_previous_that_is_not_a_spec(previous: Any) -> None:
    with pytest.raises((WfcError, TypeError), match="previous"):
        compile_workflow(Workflow("payment", payment), previous=previous)


def test_dsl_errors_pass_through_compile_unchanged() -> None:
    from wfc.dsl import DslError

    def flow(wf: WorkflowThread) -> None:
        wf.execute("")

    with pytest.raises(DslError):
        compile_workflow(Workflow("bad", flow))
