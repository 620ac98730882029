"""Interrupts in the pure interpreter: the interrupted thread and its
children freeze (a running task finishes first), the handler runs with the
payload in ``event``, then the thread resumes where it was, its timeout
clock paused meanwhile. Interrupts queue in order; a failing handler fails
the interrupted thread."""

from __future__ import annotations

from typing import Any

from rtdrive import Driver
from rtspec import (
    exit_,
    fail,
    interrupt,
    mut,
    nop,
    out,
    sleep,
    spawn,
    spec,
    task,
    thread,
    var,
    variable,
    wait,
    wait_threads,
)

from wfc.runtime.interpreter import CancelTimer, DispatchTask, TaskFailed
from wfc.runtime.interpreter.state import DoneWait, EventWait, RetryWait, RunStatus, SleepWait, ThreadStatus
from wfc.specs import WorkflowSpec

HANDLER = thread(
    [("note", task("note", var("event"))), ("end", exit_())],
    variables={"event": variable("json")},
)


def interrupted(body: list[tuple[str, Any]], **threads: Any) -> WorkflowSpec:
    return spec(
        "w",
        body,
        variables={"log": variable("json", default=[])},
        threads={"on-poke": HANDLER, **threads},
        interrupts=[interrupt("poke", "on-poke")],
    )


def test_an_interrupt_during_a_sleep_pauses_its_clock_and_resumes_it_after_the_handler() -> None:
    d = Driver(interrupted([("nap", sleep(100)), ("after", task("after")), ("end", exit_())]))
    [timer] = d.pending_timers()
    assert timer.due == 1100.0
    d.now = 1040.0
    d.event("poke", {"n": 1})
    root = d.state.root
    assert root.suspended and isinstance(root.wait, SleepWait) and root.wait.remaining == 60.0
    assert CancelTimer(timer=timer.timer) in d.last.effects
    note = d.running("note")
    assert note.args == [{"n": 1}] and note.thread == 1
    # The handler takes 25 s; the sleep then has its 60 s left, not 35.
    d.finish("note", at=1065.0)
    [rearmed] = d.pending_timers()
    assert rearmed.due == 1125.0 and not d.state.root.suspended
    assert d.kinds()[-3:] == ["THREAD_COMPLETED", "INTERRUPT_HANDLED", "THREAD_RESUMED"]
    d.fire(rearmed)
    assert d.running("after").task == "after"


def test_an_event_timeout_clock_is_paused_and_an_event_sent_meanwhile_is_taken_on_resume() -> None:
    d = Driver(interrupted([("w", wait("go", timeout=50)), ("end", exit_(out("w")))]))
    d.now = 1010.0
    d.event("poke", event_id="i1")
    root = d.state.root
    assert isinstance(root.wait, EventWait) and root.wait.remaining == 40.0 and root.wait.timer is None
    d.event("go", {"ok": True}, event_id="e2")
    assert [e.name for e in d.state.inbox] == ["go"]  # frozen: the wait does not take it yet
    d.finish("note", at=2000.0)  # long after the original deadline: no timeout
    assert d.state.status is RunStatus.COMPLETED and d.state.output == {"ok": True}


def test_a_running_task_finishes_before_the_handler_starts_and_its_result_is_kept() -> None:
    d = Driver(interrupted([("t", task("charge")), ("u", task("ship")), ("end", exit_())]))
    charge = d.running("charge")
    d.event("poke")
    assert [f.task for f in d.in_flight()] == ["charge"]  # no handler yet
    assert d.state.root.interrupt is not None and d.state.root.interrupt.handler is None
    d.finish("charge", {"id": "p1"})
    assert isinstance(d.state.root.wait, DoneWait)  # kept, not moved on
    assert [f.task for f in d.in_flight()] == ["note"]
    assert not any(isinstance(e, DispatchTask) and e.task == "ship" for e in d.effects)
    d.finish("note")
    assert d.running("ship").task == "ship" and d.state.root.outputs["t"] == {"id": "p1"}
    assert charge.idempotency_key == "r1/0/t/1"


def test_a_failed_attempt_while_frozen_keeps_its_backoff_for_after_the_handler() -> None:
    d = Driver(interrupted([("t", task("flaky", retries=2)), ("end", exit_())]))
    d.event("poke")
    d.break_("flaky")
    wait = d.state.root.wait
    assert isinstance(wait, RetryWait) and wait.timer is None and wait.remaining is not None
    assert d.running("note")
    d.finish("note")
    assert isinstance(d.state.root.wait, RetryWait) and d.state.root.wait.timer is not None


def test_children_of_the_interrupted_thread_freeze_too() -> None:
    child = [("z", sleep(30)), ("c", task("child-work")), ("end", exit_())]
    d = Driver(interrupted([("s", spawn("child")), ("w", wait_threads("s")), ("end", exit_())], child=child))
    d.now = 1010.0
    d.event("poke")
    kid = d.state.threads[1]
    assert kid.suspended and isinstance(kid.wait, SleepWait) and kid.wait.remaining == 20.0
    assert d.state.threads[2].kind == "interrupt"
    d.finish("note", at=1500.0)
    [timer] = d.pending_timers()
    assert timer.due == 1520.0


def test_several_interrupts_queue_in_arrival_order() -> None:
    d = Driver(interrupted([("w", wait("never")), ("end", exit_())]))
    d.event("poke", {"n": 1}, event_id="a")
    d.event("poke", {"n": 2}, event_id="b")
    d.event("poke", {"n": 3}, event_id="c")
    assert [i.payload for i in d.state.root.interrupts] == [{"n": 2}, {"n": 3}]
    seen = []
    for _ in range(3):
        note = d.running("note")
        seen.append(note.args[0]["n"])
        d.finish("note")
    assert seen == [1, 2, 3]
    assert not d.state.root.suspended and d.state.root.interrupts == []
    assert isinstance(d.state.root.wait, EventWait)


def test_the_handler_sees_and_changes_the_interrupted_thread_variables() -> None:
    handler = thread(
        [("h", nop(edges=[{"to": "end", "mutations": [mut("log", "append", var("event"))]}])), ("end", exit_())],
        variables={"event": variable("json")},
    )
    s = spec(
        "w",
        [("w", wait("never")), ("end", exit_())],
        variables={"log": variable("json", default=[])},
        threads={"on-poke": handler},
        interrupts=[interrupt("poke", "on-poke")],
    )
    d = Driver(s)
    d.event("poke", "first", event_id="a")
    d.event("poke", "second", event_id="b")
    assert d.state.variables["log"] == ["first", "second"]


def test_a_handler_that_fails_fails_the_interrupted_thread() -> None:
    cancel = thread(
        [("stop", task("stop-work")), ("f", fail("order-cancelled", "the customer cancelled"))],
        variables={"event": variable("json")},
    )
    s = spec(
        "w",
        [("w", wait("never")), ("end", exit_())],
        threads={"on-cancel": cancel},
        interrupts=[interrupt("cancel-order", "on-cancel")],
    )
    d = Driver(s)
    d.event("cancel-order", {"reason": "changed mind"})
    d.finish("stop-work")
    assert d.state.status is RunStatus.FAILED
    failure = d.state.failure
    assert failure is not None and (failure.name, failure.node) == ("order-cancelled", "f")
    assert d.state.root.status is ThreadStatus.FAILED and d.state.root.failed_from == 1
    assert "INTERRUPT_FAILED" in d.kinds()


def test_a_handler_error_after_retries_fails_the_interrupted_thread() -> None:
    d = Driver(interrupted([("w", wait("never")), ("end", exit_())]))
    d.event("poke")
    d.feed(TaskFailed(dispatch_id=d.running("note").dispatch_id, name="TASK_ERROR", message="down"))
    assert d.state.failure is not None and d.state.failure.name == "TASK_ERROR"


def test_an_event_with_no_active_interrupt_definition_goes_to_the_inbox() -> None:
    child = thread([("w", wait("never")), ("end", exit_())], interrupts=[interrupt("child-only", "on-poke")])
    s = spec(
        "w",
        [("x", wait("go")), ("s", spawn("child")), ("end", exit_())],
        threads={"on-poke": HANDLER, "child": child},
    )
    d = Driver(s)
    d.event("child-only", event_id="a")  # the child does not run yet
    assert [e.name for e in d.state.inbox] == ["child-only"]
