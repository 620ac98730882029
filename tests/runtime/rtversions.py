"""Versions of one workflow compiled from the DSL, and runs of its first
version recorded by a real engine: what the replay and migration plan tests
compare.

``order`` 1.0 charges, waits for the ``approved`` event, reviews orders over
100, ships. The later versions change one thing each:

- ``BRANCH``: reviews orders over 50 (an edge condition changed);
- ``RENAMED``: ships with the task ``dispatch`` (node ``ship`` removed,
  ``dispatch`` added);
- ``NO_WAIT``: does not wait for the approval (node ``wait-approved`` removed);
- ``NEW_REQUIRED``: a new required variable ``channel`` without default;
- ``NEW_OPTIONAL``: a new variable ``priority`` with a default, a new
  ``audit`` task before shipping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as task_fn
from wfc.specs import WorkflowSpec


def _order(review_over: float = 100, ship: str = "ship", wait: bool = True, extra: str = "") -> Callable[..., None]:
    def order(wf: WorkflowThread) -> None:
        order_id = wf.declare_str("order-id").required()
        amount = wf.declare_float("amount").required()
        if extra == "required":
            wf.declare_str("channel").required()
        if extra == "optional":
            wf.declare_str("priority").default("normal")
        wf.execute("charge", order_id, amount)
        if wait:
            wf.wait_for_event("approved", timeout=3600)
        wf.do_if(amount > review_over, lambda t: t.execute("review", order_id))
        if extra == "optional":
            wf.execute("audit", order_id)
        wf.execute(ship, order_id)

    return order


V1 = Workflow("order", _order()).compile()
BRANCH = Workflow("order", _order(review_over=50)).compile(previous=V1)
RENAMED = Workflow("order", _order(ship="dispatch")).compile(previous=V1)
NO_WAIT = Workflow("order", _order(wait=False)).compile(previous=V1)
NEW_REQUIRED = Workflow("order", _order(extra="required")).compile(previous=V1)
NEW_OPTIONAL = Workflow("order", _order(extra="optional")).compile(previous=V1)
OTHER = Workflow("invoice", _order()).compile()


@task_fn("charge")
def charge(order_id: str, amount: float) -> dict[str, Any]:
    return {"order": order_id, "charged": amount}


@task_fn("review")
def review(order_id: str) -> str:
    return "ok"


@task_fn("ship")
async def ship(order_id: str) -> str:
    if order_id == "shipping":  # never ends: the run stays at node ship, its attempt running
        await anyio.sleep_forever()
    return f"shipped {order_id}"


@task_fn("dispatch")
def dispatch(order_id: str) -> str:
    return f"dispatched {order_id}"


@task_fn("audit")
def audit(order_id: str) -> None:
    return None


TASKS = [charge, review, ship, dispatch, audit]

#: Recorded runs: amount, and whether the approval is sent (else the run waits for it).
RUNS = {"small": (20.0, True), "medium": (70.0, True), "big": (500.0, True), "parked": (70.0, False),
        "shipping": (20.0, True)}  # fmt: skip


async def record(url: str, deploy: list[WorkflowSpec] | None = None) -> dict[str, str]:
    """Runs of :data:`V1` (``RUNS``) on the database at ``url``, finished or
    parked at the approval or at ``ship``; then the ``deploy`` specs. Run id by name."""
    async with Engine.open(url, tasks=TASKS, poll_interval=0.02) as engine:
        await engine.deploy(V1)
        ids: dict[str, str] = {}
        for name, (amount, approve) in RUNS.items():
            run_id = await engine.start("order", {"order-id": name, "amount": amount}, run_id=f"order-{name}")
            ids[name] = run_id
            await _until_waiting(engine, run_id)
            if approve:
                await engine.send_event("approved", {"by": "ann"}, run_id=run_id, event_id=f"ok-{name}")
                if name == "shipping":
                    await _until(engine, run_id, "ship")
                    continue
                run = await engine.wait(run_id, timeout=30)
                assert run.status is RunStatus.COMPLETED, run
        for spec in deploy or []:  # after the runs started: they are on 1.0
            await engine.deploy(spec)
        return ids


async def _until_waiting(engine: Engine, run_id: str) -> None:
    await _until(engine, run_id, "approved")


async def _until(engine: Engine, run_id: str, what: str) -> None:
    """Until the run waits for something naming ``what``."""
    with anyio.fail_after(30):
        while not any(what in wait for wait in (await engine.get_run(run_id)).waiting_on):
            await anyio.sleep(0.02)
