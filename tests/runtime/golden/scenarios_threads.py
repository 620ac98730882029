"""Golden scenarios of child threads and interrupts: spawn and wait (ALL,
FIRST, ANY), for-each fan-out under the cap, child failure handled or not
(and retried), wait timeouts, interrupts that pause timers, interrupt
handlers that fail."""

from __future__ import annotations

from rtspec import (
    exit_,
    fail,
    for_each,
    handler,
    interrupt,
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

from golden.catalog import scenario
from golden.recorder import Recorder
from wfc.runtime.interpreter import Limits

ITEM = {"item": variable("json", required=True)}


def _worker() -> dict[str, object]:
    return thread([("pick", task("pick", var("item"))), ("end", exit_(out("pick")))], variables=ITEM)


@scenario
def spawned_threads_are_awaited_all() -> Recorder:
    """Two ``spawn_thread`` nodes with inputs, then ``wait_for_threads``
    (ALL): the output is the children's outputs in spawn order, whatever
    order they end in."""
    r = Recorder(
        spec(
            "spawn-all",
            [
                ("a", spawn("worker", item="apple")),
                ("b", spawn("worker", item="pear")),
                ("w", wait_threads("a", "b")),
                ("end", exit_(out("w"))),
            ],
            threads={"worker": _worker()},
        )
    )
    r.done("pick", "pear!", nth=1)
    r.done("pick", "apple!")
    return r


@scenario
def for_each_with_first_strategy_halts_the_others() -> Recorder:
    """``spawn_thread_for_each`` starts one child per item; FIRST ends the
    wait with the first child to end, halting the rest (their tasks abandoned)."""
    r = Recorder(
        spec(
            "for-each-first",
            [
                ("each", for_each("worker", [1, 2, 3])),
                ("w", wait_threads("each", strategy="FIRST")),
                ("end", exit_(out("w"))),
            ],
            threads={"worker": _worker()},
        )
    )
    r.done("pick", "two", nth=1)
    return r


@scenario
def any_strategy_completes_despite_a_failed_child() -> Recorder:
    """ANY: a failed child does not fail the wait while another may still
    complete; the first completion ends it."""
    r = Recorder(
        spec(
            "for-each-any",
            [
                ("each", for_each("worker", ["x", "y"])),
                ("w", wait_threads("each", strategy="ANY")),
                ("end", exit_(out("w"))),
            ],
            threads={"worker": _worker()},
        )
    )
    r.fail("pick", "out-of-stock", "no x", business=True)
    r.done("pick", "y!")
    return r


@scenario
def child_failure_unhandled_fails_the_run_and_retry_revives_the_child() -> Recorder:
    """A child's technical failure fails the wait with ``CHILD_FAILURE``
    (the other child halted); retry re-runs the child's failed task and the
    halted sibling goes on."""
    r = Recorder(
        spec(
            "child-failure",
            [("each", for_each("worker", ["x", "y"])), ("w", wait_threads("each")), ("end", exit_(out("w")))],
            threads={"worker": _worker()},
        )
    )
    r.fail("pick", "TASK_ERROR", "scanner down")
    r.retry()
    r.done("pick", "x!")
    r.done("pick", "y!")
    return r


@scenario
def child_business_failure_handled_on_the_wait() -> Recorder:
    """A child's business exception reaches the parent's wait under its own
    name, where ``handle_exception`` takes it."""
    r = Recorder(
        spec(
            "child-exception-handled",
            [
                ("a", spawn("checker", item=1)),
                ("w", wait_threads("a", handlers=[handler("exception", "recover", "bad-item")])),
                ("end", exit_("recovered")),
            ],
            threads={
                "checker": thread([("no", fail("bad-item", "item refused", var("item")))], variables=ITEM),
                "recover": thread([("end", exit_())], variables={"failure": variable("json")}),
            },
        )
    )
    return r


@scenario
def wait_for_threads_timeout_halts_the_children() -> Recorder:
    """A ``wait_for_threads`` timeout halts the children still running and
    fails the node with ``TIMEOUT``."""
    r = Recorder(
        spec(
            "threads-timeout",
            [("a", spawn("worker", item=1)), ("w", wait_threads("a", timeout=60)), ("end", exit_())],
            threads={"worker": _worker()},
        )
    )
    r.fire()
    return r


@scenario
def fan_out_cap_queues_children_until_a_slot_frees() -> Recorder:
    """Over the engine's ``max_children`` a child is QUEUED; it starts when a
    running child ends."""
    r = Recorder(
        spec(
            "fan-out-cap",
            [("each", for_each("worker", ["x", "y", "z"])), ("w", wait_threads("each")), ("end", exit_(out("w")))],
            threads={"worker": _worker()},
        ),
        limits=Limits(max_children=2),
    )
    r.done("pick", "x!")
    r.done("pick", "y!")
    r.done("pick", "z!")
    return r


def _interrupted(handler_body: list[tuple[str, dict[str, object]]]) -> Recorder:
    return Recorder(
        spec(
            "interrupts",
            [("nap", sleep(100)), ("charge", task("charge")), ("end", exit_(out("charge")))],
            threads={"on-poke": thread(handler_body, variables={"event": variable("json")})},
            interrupts=[interrupt("poke", "on-poke")],
        )
    )


@scenario
def interrupt_pauses_the_thread_and_its_timer() -> Recorder:
    """An interrupt event freezes the interrupted thread (its sleep timer
    withdrawn, time left kept), runs the handler thread with the event, then
    thaws the thread and re-arms the timer with the time that was left."""
    r = _interrupted([("note", task("note", var("event"))), ("end", exit_())])
    r.event("poke", {"n": 1}, after=10.0)
    r.done("note", after=5.0)
    r.fire()
    r.done("charge", "ok")
    return r


@scenario
def interrupt_keeps_a_task_result_until_the_thread_thaws() -> Recorder:
    """A task completing while its thread is interrupted is kept, and the
    thread moves on once the handler finished."""
    r = _interrupted([("note", task("note")), ("end", exit_())])
    r.fire()
    r.event("poke")
    r.done("charge", "kept")
    r.done("note")
    return r


@scenario
def interrupt_handler_failure_fails_the_run() -> Recorder:
    """An interrupt handler thread that fails fails the thread it
    interrupted, and so the run."""
    r = _interrupted([("no", fail("refused", "poke refused"))])
    r.event("poke", after=10.0)
    return r


@scenario
def event_wait_in_a_child_thread() -> Recorder:
    """A child thread waiting for an event gets it; its parent awaits it."""
    r = Recorder(
        spec(
            "child-wait",
            [("a", spawn("listener")), ("w", wait_threads("a")), ("end", exit_(out("w")))],
            threads={"listener": thread([("hear", wait("ping")), ("end", exit_(out("hear")))])},
        )
    )
    r.event("ping", "pong")
    return r


@scenario
def queued_children_are_halted_when_the_run_is_cancelled() -> Recorder:
    """Cancelling a run halts running and still-queued children alike; the
    queued one never started (no task of it was dispatched)."""
    r = Recorder(
        spec(
            "cancel-queued",
            [("each", for_each("worker", ["x", "y"])), ("w", wait_threads("each")), ("end", exit_())],
            threads={"worker": _worker()},
        ),
        limits=Limits(max_children=1),
    )
    r.cancel("stop")
    return r
