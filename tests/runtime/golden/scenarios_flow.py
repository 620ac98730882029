"""Golden scenarios of control flow and waiting: branches, loops with
mutations, event waits (inbox, correlation, duplicates, unexpected events,
timeouts handled or not), sleeps, fail nodes."""

from __future__ import annotations

from rtspec import (
    edge,
    exit_,
    fail,
    handler,
    mut,
    nop,
    op,
    out,
    sleep,
    sleep_until,
    spec,
    task,
    thread,
    var,
    variable,
    wait,
)

from golden.catalog import scenario
from golden.recorder import Recorder

FAILURE = {"failure": variable("json")}


@scenario
def branch_takes_the_first_edge_whose_condition_holds() -> Recorder:
    """``do_if/elif/else``: edges are tried in order, the unconditional one
    last; the taken edge's mutations apply; branches join at a nop."""
    r = Recorder(
        spec(
            "branches",
            [
                (
                    "if",
                    nop(
                        edges=[
                            edge("big", op(var("amount"), ">", 100)),
                            edge("mid", op(var("amount"), ">", 10), mut("tier", "assign", "mid")),
                            edge("small", None, mut("tier", "assign", "small")),
                        ]
                    ),
                ),
                ("big", task("review", var("amount"), edges=[edge("join")])),
                ("mid", nop(edges=[edge("join", None, mut("amount", "multiply", 2))])),
                ("small", nop(edges=[edge("join")])),
                ("join", nop()),
                ("end", exit_(var("amount"))),
            ],
            variables={"amount": variable("float", required=True), "tier": variable("str", default="none")},
        ),
        {"amount": 50},
    )
    return r


@scenario
def loop_runs_its_body_until_the_condition_fails() -> Recorder:
    """``do_while``: a nop whose edge loops back while the condition holds,
    with mutations (add, append) on the looping edge; node visits count up,
    so each iteration's task has its own idempotency key."""
    r = Recorder(
        spec(
            "loop",
            [
                ("work", task("work", var("n"))),
                (
                    "while",
                    nop(
                        edges=[
                            edge("work", op(var("n"), "<", 2), mut("n", "add", 1), mut("seen", "append", out("work"))),
                            edge("end"),
                        ]
                    ),
                ),
                ("end", exit_(var("seen"))),
            ],
            variables={"n": variable("int", default=0), "seen": variable("json", default=[])},
        )
    )
    r.done("work", "a")
    r.done("work", "b")
    r.done("work", "c")
    return r


@scenario
def event_sent_before_its_wait_is_kept_in_the_inbox() -> Recorder:
    """An event no wait asks for yet is queued and consumed when the wait
    comes; a duplicate event id is ignored; an event nobody waits for stays
    queued after the run ends."""
    r = Recorder(
        spec("inbox", [("prep", task("prep")), ("approval", wait("approved")), ("end", exit_(out("approval")))])
    )
    r.event("approved", {"by": "ann"})
    r.event("approved", {"by": "ann"}, event_id="e1")
    r.event("unexpected", 1)
    r.done("prep")
    r.event("approved", "too late")
    return r


@scenario
def correlated_wait_takes_only_its_key() -> Recorder:
    """A wait with a correlation key asks the engine to route the key to it
    (WatchEvent); an event with another key is queued; one with its key is
    consumed and the watch dropped."""
    r = Recorder(
        spec(
            "correlation",
            [("approval", wait("paid", timeout=60, correlation=var("order"))), ("end", exit_(out("approval")))],
            variables={"order": variable("str", required=True)},
        ),
        {"order": "o-1"},
    )
    r.event("paid", "wrong order", correlation="o-2")
    r.event("paid", {"ok": True}, correlation="o-1")
    return r


@scenario
def event_timeout_unhandled_fails_the_run_and_retry_waits_again() -> Recorder:
    """No event within the timeout: ``TIMEOUT`` fails the node and the run;
    a retry waits again with the whole timeout."""
    r = Recorder(spec("event-timeout", [("approval", wait("approved", timeout=30)), ("end", exit_(out("approval")))]))
    r.fire()
    r.retry()
    r.event("approved", "yes")
    return r


@scenario
def event_timeout_handled_goes_on_after_the_handler() -> Recorder:
    """A ``TIMEOUT`` taken by ``handle_error``: the handler thread runs, then
    the thread leaves the wait along its edges (the wait has no output)."""
    r = Recorder(
        spec(
            "event-timeout-handled",
            [
                ("approval", wait("approved", timeout=30, handlers=[handler("error", "late", "TIMEOUT")])),
                ("end", exit_("timed out")),
            ],
            threads={"late": thread([("remind", task("remind")), ("end", exit_())], variables=FAILURE)},
        )
    )
    r.fire()
    r.done("remind")
    return r


@scenario
def sleeps_wait_on_durable_timers() -> Recorder:
    """``sleep(seconds)`` sets a timer; ``sleep_until`` a moment in the past
    goes straight on, one in the future (ISO-8601) sets a timer."""
    r = Recorder(
        spec(
            "sleeps",
            [
                ("nap", sleep(var("seconds"))),
                ("past", sleep_until(500)),
                ("later", sleep_until("1970-01-01T00:20:00Z")),
                ("end", exit_("awake")),
            ],
            variables={"seconds": variable("float", default=30)},
        )
    )
    r.fire()
    r.fire()
    return r


@scenario
def fail_node_fails_the_run_and_retry_is_refused() -> Recorder:
    """A ``fail`` node raises its business exception (message and evaluated
    content); unhandled, the run is FAILED; it would fail again, so a retry
    is refused, and so is a resume."""
    r = Recorder(
        spec("fail-node", [("check", task("check")), ("reject", fail("rejected", "order rejected", out("check")))])
    )
    r.done("check", {"reason": "fraud"})
    r.retry()
    r.resume()
    return r


@scenario
def fail_node_in_a_handler_thread_fails_the_node_it_handled() -> Recorder:
    """A handler thread that itself fails: the handled node fails with the
    handler's failure, and with no further handler the run fails."""
    r = Recorder(
        spec(
            "failing-handler",
            [("charge", task("charge", handlers=[handler("any", "give-up")])), ("end", exit_())],
            threads={
                "give-up": thread(
                    [("no", fail("gave-up", "handler gave up", var("failure", "name")))], variables=FAILURE
                )
            },
        )
    )
    r.fail("charge", "TASK_ERROR", "down")
    return r


@scenario
def expression_error_in_a_condition_fails_again_after_its_handler() -> Recorder:
    """A failing edge condition fails the node it leaves with
    ``EXPRESSION_ERROR``, which ``handle_error`` for that code takes; after
    the handler, leaving the node evaluates the condition again, which fails
    again, and that failure is not handled a second time: the run fails."""
    r = Recorder(
        spec(
            "condition-error",
            [
                ("check", task("check", handlers=[handler("error", "log", "EXPRESSION_ERROR")],
                               edges=[edge("big", op(out("check", "score"), ">", 1)), edge("end")])),
                ("big", nop(edges=[edge("end")])),
                ("end", exit_("done")),
            ],
            threads={"log": thread([("note", task("note", var("failure", "message"))), ("end", exit_())],
                                   variables=FAILURE)},
        )
    )  # fmt: skip
    r.done("check", "not an object")
    r.done("note")
    return r


@scenario
def failure_in_a_handler_thread_is_retried_there() -> Recorder:
    """A handler thread's own task fails the run; an operator retry re-runs
    that task (the origin of the failure), the handler completes and the
    handled thread goes on."""
    r = Recorder(
        spec(
            "handler-retry",
            [("charge", task("charge", handlers=[handler("any", "page")])), ("end", exit_("after"))],
            threads={"page": thread([("call", task("call-oncall")), ("end", exit_())], variables=FAILURE)},
        )
    )
    r.fail("charge", "declined", business=True)
    r.fail("call-oncall", "TASK_ERROR", "pager down")
    r.retry()
    r.done("call-oncall")
    return r
