"""Task nodes in the interpreter: retries as durable timers, policy
precedence, business vs technical failures, stale results, redelivery."""

from __future__ import annotations

import pytest
from rtdrive import Driver
from rtspec import backoff, exit_, out, spec, task
from rtspec import lit as literal

from wfc.runtime.interpreter import (
    AbandonTask,
    Cancel,
    DispatchTask,
    Redeliver,
    SetTimer,
    TaskCompleted,
    TaskPolicy,
    TimerFired,
    effective_retries,
    retry_delay,
)
from wfc.runtime.interpreter.state import RetryWait, RunStatus, TaskWait
from wfc.specs import Backoff, TaskNode


def test_technical_failure_schedules_a_retry_timer_then_redispatches_with_the_same_key() -> None:
    s = spec(
        "w",
        [
            ("a", task("t", retries=2, backoff=backoff(initial=1.0, multiplier=2.0, maximum=10.0))),
            ("end", exit_(out("a"))),
        ],
    )
    d = Driver(s, now=100.0)
    first = d.dispatch()
    d.fail_task(message="ConnectionError: refused", at=101.0)
    [timer] = d.timers()
    assert isinstance(d.state.root.wait, RetryWait)
    assert 101.0 + 0.5 <= timer.due <= 101.0 + 1.0  # equal jitter: half to all of 1 s
    assert d.entries("TASK_FAILED")[0]["next_attempt"] == 2
    assert not d.dispatched()  # nothing runs before the timer fires
    d.fire()
    second = d.dispatch()
    assert second.attempt == 2
    assert second.idempotency_key == first.idempotency_key == "r1/0/a/1"
    assert second.dispatch_id == "r1/0/a/1#2"
    d.fail_task(at=d.now)
    [timer2] = d.timers()
    assert 1.0 <= timer2.due - d.now <= 2.0  # the second delay doubles
    d.fire()
    d.complete("ok")
    assert d.state.status is RunStatus.COMPLETED and d.state.output == "ok"


def test_retries_exhausted_fail_with_task_error_and_say_so() -> None:
    s = spec("w", [("a", task("t", retries=1, backoff=backoff())), ("end", exit_())])
    d = Driver(s)
    d.fail_task(message="boom")
    d.fire()
    d.fail_task(message="boom again")
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.node, failure.kind) == ("TASK_ERROR", "a", "error")
    assert failure.message == "boom again (attempt 2 of 2, no retries left)"


def test_timeout_failures_keep_their_code() -> None:
    s = spec("w", [("a", task("t", timeout=0.5)), ("end", exit_())])
    d = Driver(s)
    assert d.dispatch().timeout == 0.5
    d.fail_task(name="TIMEOUT", message="attempt took longer than 0.5 s")
    assert d.state.failure is not None and d.state.failure.name == "TIMEOUT"


def test_business_exceptions_are_never_retried() -> None:
    s = spec("w", [("a", task("t", retries=5)), ("end", exit_())])
    d = Driver(s)
    d.fail_task(name="card-declined", message="no funds", business=True, content={"code": 51})
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.kind, failure.content) == ("card-declined", "exception", {"code": 51})
    assert not d.timers()


def test_policy_precedence_spec_first_then_task_defaults() -> None:
    node = TaskNode(task="t", edges=[])
    assert effective_retries(node, None) == 0
    assert effective_retries(node, TaskPolicy(retries=4)) == 4  # spec left it unset: the task default applies
    explicit = TaskNode(task="t", retries=2, edges=[])
    assert effective_retries(explicit, TaskPolicy(retries=4)) == 2  # the spec's choice wins
    off = TaskNode(task="t", retries=0, edges=[])
    assert effective_retries(off, TaskPolicy(retries=4)) == 0  # ... 0 included: no retries

    s = spec("w", [("a", task("t")), ("end", exit_())])
    d = Driver(s, policies={"t": TaskPolicy(retries=1, timeout=3.0, backoff=Backoff(initial=0.2, maximum=0.2))})
    assert d.dispatch().timeout == 3.0  # task default timeout when the spec has none
    d.fail_task()
    [timer] = d.timers()
    assert 0.1 <= timer.due - d.now <= 0.2


def test_retry_delay_is_capped_and_deterministic() -> None:
    policy = Backoff(initial=1.0, multiplier=10.0, maximum=5.0)
    assert retry_delay(policy, 1, "k") == retry_delay(policy, 1, "k")
    assert retry_delay(policy, 1, "k") != retry_delay(policy, 1, "other")
    assert 2.5 <= retry_delay(policy, 3, "k") <= 5.0


def test_stale_results_and_timers_are_ignored() -> None:
    s = spec("w", [("a", task("t")), ("end", exit_())])
    d = Driver(s)
    result = d.feed(TaskCompleted(dispatch_id="r1/0/a/1#7", output=1))
    assert result.effects == [] and result.journal == []
    result = d.feed(TimerFired(timer=99))
    assert result.effects == [] and result.journal == []
    assert isinstance(d.state.root.wait, TaskWait)


def test_redeliver_dispatches_the_same_attempt_again() -> None:
    s = spec("w", [("a", task("t", literal(1))), ("end", exit_())])
    d = Driver(s)
    original = d.dispatch()
    again = d.feed(Redeliver(dispatch_id=original.dispatch_id))
    assert again.effects == [original]
    assert d.kinds()[-1] == "TASK_CLAIMED"
    assert d.feed(Redeliver(dispatch_id="unknown#1")).effects == []


def test_cancel_abandons_the_task_in_flight_and_retry_timers() -> None:
    s = spec("w", [("a", task("t", retries=3, backoff=backoff())), ("end", exit_())])
    d = Driver(s)
    dispatch = d.dispatch()
    cancelled = d.feed(Cancel(reason="customer asked"))
    assert AbandonTask(dispatch_id=dispatch.dispatch_id) in cancelled.effects
    assert d.state.status is RunStatus.CANCELLED
    assert d.entries("RUN_CANCELLED") == [{"reason": "customer asked"}]

    d2 = Driver(s)
    d2.fail_task()
    [timer] = d2.timers()
    effects = d2.feed(Cancel()).effects
    assert any(getattr(e, "timer", None) == timer.timer for e in effects)
    assert not any(isinstance(e, DispatchTask | SetTimer) for e in effects)


def test_completed_steps_with_compensations_are_logged_in_order() -> None:
    refund = {"task": "refund", "args": [out("charge", "payment_id")], "retries": 2}
    s = spec("w", [("charge", task("charge", compensation=refund)), ("ship", task("ship")), ("end", exit_())])
    d = Driver(s)
    d.complete({"payment_id": "p-1"}, at=1001.0)
    d.complete(None)
    [record] = d.state.compensations
    assert (record.task, record.args, record.retries, record.node, record.completed_at) == (
        "refund",
        ["p-1"],
        2,
        "charge",
        1001.0,
    )
    assert record.idempotency_key == "r1/0/charge/1"


@pytest.mark.parametrize("output", [None, 0, "", [], {"a": [1, {"b": None}]}])
def test_any_json_output_is_stored_as_the_node_output(output: object) -> None:
    s = spec("w", [("a", task("t")), ("end", exit_(out("a")))])
    d = Driver(s)
    d.complete(output)
    assert d.state.output == output
