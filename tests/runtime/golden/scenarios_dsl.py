"""Golden scenarios of workflows written with the DSL and compiled, as users
write them: the spec in the file is the compiler's output, so these pin
what the interpreter does with the node shapes the compiler makes (do_if
and do_while nops, mutations, handler threads, compensation, for-each
children and interrupt handlers)."""

from __future__ import annotations

from golden.catalog import scenario
from golden.recorder import Recorder
from wfc.compiler import compile_workflow
from wfc.dsl import Backoff, Expression, Workflow, WorkflowThread
from wfc.specs import WorkflowSpec


def _order(wf: WorkflowThread) -> Expression:
    order_id = wf.declare_str("order-id").required()
    amount = wf.declare_float("amount").required()
    rounds = wf.declare_int("rounds").default(0)
    charge = wf.execute(
        "charge-card", order_id, amount, retries=1, backoff=Backoff(initial=1.0, multiplier=2.0, maximum=5.0)
    )
    charge.compensate_with("refund-card", charge["payment_id"])
    wf.do_if(amount > 100, lambda t: t.execute("fraud-check", order_id)).do_else(lambda t: rounds.assign(1))
    wf.do_while(rounds < 2, lambda t: t.mutate(rounds, "add", 1))
    approval = wf.wait_for_event("approved", timeout=60)
    wf.sleep(5)
    ship = wf.execute("ship", order_id, approval["by"])
    wf.handle_any_failure(ship, lambda t: t.compensate())
    return ship["tracking"]


def _fan_out(wf: WorkflowThread) -> Expression:
    items = wf.declare_json("items").required()

    def pick(t: WorkflowThread) -> None:
        picked = t.execute("pick", t.variable("item"))
        t.complete(picked)

    children = wf.spawn_thread_for_each(items, pick, "picker")
    picked = wf.wait_for_threads(children)
    wf.add_interrupt_handler("note", lambda t: t.execute("log-note", t.variable("event")))
    return picked


def _compiled(name: str, fn: object) -> WorkflowSpec:
    return compile_workflow(Workflow(name, fn))  # type: ignore[arg-type]


@scenario
def dsl_order_retried_branched_looped_and_shipped() -> Recorder:
    """A DSL order: the charge retried once, the ``do_if`` branch for a large
    amount, a ``do_while`` of mutations, an event sent before its wait, a
    sleep, then the shipment: COMPLETED with the tracking number."""
    r = Recorder(_compiled("dsl-order", _order), {"order-id": "o-1", "amount": 250.0})
    r.fail("charge-card", "TASK_ERROR", "gateway timeout")
    r.event("approved", {"by": "ann"})
    r.fire()
    r.done("charge-card", {"payment_id": "pay-1"})
    r.done("fraud-check", {"ok": True})
    r.fire()
    r.done("ship", {"tracking": "TRK-1"})
    return r


@scenario
def dsl_order_compensated_when_shipping_fails() -> Recorder:
    """The same DSL order, small amount (the ``do_else`` branch): shipping
    raises a business exception, ``handle_any_failure`` runs ``compensate``,
    the charge is refunded and the run ends COMPENSATED."""
    r = Recorder(_compiled("dsl-order", _order), {"order-id": "o-2", "amount": 20.0})
    r.done("charge-card", {"payment_id": "pay-2"})
    r.event("approved", {"by": "bob"})
    r.fire()
    r.fail("ship", "no-carrier", "no carrier today", business=True)
    r.done("refund-card")
    return r


@scenario
def dsl_fan_out_with_an_interrupt() -> Recorder:
    """A DSL for-each fan-out awaited with ALL, interrupted by an event: the
    handler starts once the running tasks of the interrupted threads (the
    children too) finished, and the wait completes after the handler."""
    r = Recorder(_compiled("dsl-fan-out", _fan_out), {"items": ["a", "b"]})
    r.event("note", {"text": "hurry"})
    r.done("pick", "A")
    r.done("pick", "B")
    r.done("log-note")
    return r
