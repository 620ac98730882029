"""Workflows and tasks whose metrics are known exactly, for the tests of
observers, metrics and JSON logs. Also a ``--tasks`` module: ``wfc server``
and ``wfc worker`` processes import this file by its path.

Each flow once gives, in the process that runs its tasks:

========== ========================================== =====================================
flow       task attempts (outcome)                    run ends
========== ========================================== =====================================
m-ok       ok-task ok                                 COMPLETED
m-retry    flaky error x3 (2 retries)                 FAILED
m-comp     reserve ok, charge exception;              COMPENSATED
           compensation release ok
m-timeout  slow timeout                               FAILED
========== ========================================== =====================================
"""

from __future__ import annotations

from typing import Any

import anyio

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import TaskException, task
from wfc.specs import Backoff, WorkflowSpec

#: The masked card number of ``m-comp``: no log line may show it.
CARD = "tok_visa_4242_secret"


@task("ok-task")
def ok_task(n: int) -> dict[str, int]:
    return {"n": n}


@task("flaky")
def flaky(n: int) -> None:
    raise RuntimeError(f"flaky failed for {n}")


@task("reserve")
def reserve(item: str) -> dict[str, str]:
    return {"reservation": f"r-{item}"}


@task("release")
def release(reservation: str) -> None:
    del reservation


@task("charge")
def charge(card: str) -> None:
    raise TaskException("card-declined", f"card {card} was declined")


@task("slow")
async def slow() -> None:
    await anyio.sleep(60)


TASKS: list[Any] = [ok_task, flaky, reserve, release, charge, slow]


def _ok(wf: WorkflowThread) -> None:
    wf.execute("ok-task", 1)


def _retry(wf: WorkflowThread) -> None:
    wf.execute("flaky", 2, retries=2, backoff=Backoff(initial=0.01, multiplier=1.0, maximum=0.01))


def _comp(wf: WorkflowThread) -> None:
    card = wf.declare_str("card").required().masked()
    reserved = wf.execute("reserve", "book")
    reserved.compensate_with("release", reserved["reservation"])
    wf.execute("charge", card, retries=0)


def _timeout(wf: WorkflowThread) -> None:
    wf.execute("slow", retries=0, timeout=0.2)


def _waits(wf: WorkflowThread) -> None:
    wf.wait_for_event("go")


def _orphan(wf: WorkflowThread) -> None:
    wf.execute("nobody-runs")


def _sleeps(wf: WorkflowThread) -> None:
    wf.sleep(60)


#: The flows above, compiled, by name.
FLOWS: dict[str, WorkflowSpec] = {
    name: Workflow(name, body).compile()
    for name, body in (
        ("m-ok", _ok),
        ("m-retry", _retry),
        ("m-comp", _comp),
        ("m-timeout", _timeout),
        ("m-waits", _waits),
        ("m-orphan", _orphan),
        ("m-sleeps", _sleeps),
    )
}

#: Inputs of each flow.
INPUTS: dict[str, dict[str, Any]] = {"m-comp": {"card": CARD}}

#: Flows that end by themselves when their tasks run, and how.
ENDINGS = {"m-ok": "COMPLETED", "m-retry": "FAILED", "m-comp": "COMPENSATED", "m-timeout": "FAILED"}

#: What those four runs count once, as ``(metric, labels) -> value``.
ATTEMPTS = {
    ("ok-task", "ok"): 1,
    ("flaky", "error"): 3,
    ("reserve", "ok"): 1,
    ("charge", "exception"): 1,
    ("slow", "timeout"): 1,
}
COMPENSATIONS = {("release", "ok"): 1}
DURATIONS = {"ok-task": 1, "flaky": 3, "reserve": 1, "charge": 1, "slow": 1, "release": 1}


def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labelled(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, *keys: str) -> dict[Any, float]:
    """The samples named ``name``, by the values of the labels ``keys``
    (a tuple of them; the value itself for one key)."""
    found: dict[Any, float] = {}
    for (sample, labels), value in samples.items():
        if sample == name:
            values = tuple(dict(labels)[key] for key in keys)
            found[values[0] if len(values) == 1 else values] = value
    return found
