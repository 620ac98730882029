"""Golden scenarios of task nodes and their failures: completion, retries and
backoff, retries exhausted, timeouts, business exceptions handled or not,
task policies, redelivery, stale results, expression errors, crashes,
refused inputs, secrets."""

from __future__ import annotations

from rtspec import backoff, exit_, handler, op, out, spec, task, thread, var, variable

from golden.catalog import scenario
from golden.recorder import Recorder
from wfc.runtime.interpreter import TaskCompleted, TaskFailed, TaskPolicy, TimerFired
from wfc.specs import Backoff

AMOUNT = {"amount": variable("float", required=True)}
FAILURE = {"failure": variable("json")}


@scenario
def task_completes_and_the_run_exits_with_its_output() -> Recorder:
    """A task node dispatches its evaluated arguments; its result becomes the
    node's output, and the exit node's expression the run's output."""
    r = Recorder(
        spec(
            "task-completes",
            [("charge", task("charge", var("amount"))), ("end", exit_(out("charge", "id")))],
            variables=AMOUNT,
        ),
        {"amount": 9.5},
    )
    r.done("charge", {"id": "pay-1"})
    return r


@scenario
def task_retried_after_backoff_then_completes() -> Recorder:
    """A technical failure with retries left waits the backoff on a durable
    timer, then dispatches the next attempt with the same idempotency key."""
    r = Recorder(
        spec("task-retry", [("charge", task("charge", retries=2, backoff=backoff(1.0, 2.0, 10.0))), ("end", exit_())])
    )
    r.fail("charge", "TASK_ERROR", "connection reset")
    r.fire()
    r.fail("charge", "TIMEOUT", "took too long")
    r.fire()
    r.done("charge", "ok")
    return r


@scenario
def task_retries_exhausted_fail_the_run_and_retry_runs_it_again() -> Recorder:
    """The last attempt failing fails the node; with no handler the run is
    FAILED, and an operator retry dispatches the next attempt, same key."""
    r = Recorder(
        spec(
            "task-exhausted", [("charge", task("charge", retries=1, backoff=backoff(2.0, 2.0, 10.0))), ("end", exit_())]
        )
    )
    r.fail("charge")
    r.fire()
    r.fail("charge", message="still down")
    r.retry()
    r.done("charge", "ok")
    return r


@scenario
def task_timeout_taken_by_an_error_handler() -> Recorder:
    """A ``TIMEOUT`` error goes to the handler named for it (not the one for
    another error); the handler thread runs, then the thread goes on along
    the failed node's edges."""
    r = Recorder(
        spec(
            "task-timeout",
            [
                (
                    "charge",
                    task(
                        "charge",
                        timeout=5.0,
                        handlers=[
                            handler("error", "on-other", "TASK_ERROR"),
                            handler("error", "on-timeout", "TIMEOUT"),
                        ],
                    ),
                ),
                ("end", exit_("after-handler")),
            ],
            threads={
                "on-timeout": thread(
                    [("page", task("page", var("failure", "name"))), ("end", exit_())], variables=FAILURE
                ),
                "on-other": thread([("end", exit_())], variables=FAILURE),
            },
        )
    )
    r.fail("charge", "TIMEOUT", "no answer within 5 s")
    r.done("page")
    return r


@scenario
def business_exception_handled_by_its_handler() -> Recorder:
    """A business exception is never retried; ``handle_exception`` for its
    name takes it and sees name, message and content in ``failure``."""
    r = Recorder(
        spec(
            "business-handled",
            [
                ("charge", task("charge", retries=3, handlers=[handler("exception", "declined", "card-declined")])),
                ("end", exit_("handled")),
            ],
            threads={"declined": thread([("tell", task("tell", var("failure"))), ("end", exit_())], variables=FAILURE)},
        )
    )
    r.fail("charge", "card-declined", "insufficient funds", business=True, content={"code": 51})
    r.done("tell")
    return r


@scenario
def business_exception_with_no_matching_handler_fails_the_run() -> Recorder:
    """A handler for another exception name does not take it: the run is
    FAILED with the exception's name, message and content."""
    r = Recorder(
        spec(
            "business-unhandled",
            [("charge", task("charge", handlers=[handler("exception", "other", "out-of-stock")])), ("end", exit_())],
            threads={"other": thread([("end", exit_())], variables=FAILURE)},
        )
    )
    r.fail("charge", "card-declined", "insufficient funds", business=True, content={"code": 51})
    return r


@scenario
def task_policy_retries_apply_when_the_spec_leaves_them_unset() -> Recorder:
    """``@task(retries=, backoff=)`` defaults apply to a node whose spec sets
    none; the failure message counts the attempts."""
    r = Recorder(
        spec("task-policy", [("charge", task("charge")), ("end", exit_())]),
        policies={"charge": TaskPolicy(retries=1, backoff=Backoff(initial=3.0, multiplier=1.0, maximum=3.0))},
    )
    r.fail("charge")
    r.fire()
    r.fail("charge")
    return r


@scenario
def redelivered_attempt_is_dispatched_again_with_the_same_key() -> Recorder:
    """Recovery of an attempt whose process died: the same dispatch again,
    journaled as claimed; its result then counts once."""
    r = Recorder(spec("redeliver", [("charge", task("charge", "x")), ("end", exit_(out("charge")))]))
    r.redeliver("charge")
    dispatch_id = r.dispatch_id("charge")
    r.done("charge", 1)
    r.feed(TaskCompleted(dispatch_id=dispatch_id, output=2))  # the first delivery's late result
    return r


@scenario
def stale_inputs_change_nothing() -> Recorder:
    """Results for attempts nobody waits for, unknown timers and results of a
    superseded attempt give an empty transition."""
    r = Recorder(spec("stale", [("charge", task("charge", retries=1, backoff=backoff(1.0))), ("end", exit_())]))
    first = r.dispatch_id("charge")
    r.feed(TaskCompleted(dispatch_id="r1/0/nowhere/1#1", output=None))
    r.feed(TimerFired(timer=42))
    r.fail("charge")
    r.feed(TaskCompleted(dispatch_id=first, output="late"))  # attempt 1 already failed
    r.feed(TaskFailed(dispatch_id=first, name="TASK_ERROR"))
    r.fire()
    r.done("charge")
    r.feed(TaskCompleted(dispatch_id=first, output="after the end"))
    return r


@scenario
def expression_error_fails_the_node_and_is_not_retryable() -> Recorder:
    """An argument that cannot be evaluated (a division by zero) fails the
    node with ``EXPRESSION_ERROR``; an operator retry is refused."""
    r = Recorder(
        spec(
            "expression-error",
            [("prep", task("prep")), ("charge", task("charge", op(var("amount"), "/", out("prep")))), ("end", exit_())],
            variables=AMOUNT,
        ),
        {"amount": 10},
    )
    r.done("prep", 0)
    r.retry()
    return r


@scenario
def crash_fails_the_run_with_internal_error() -> Recorder:
    """When applying an input raised, the engine fails the run through
    ``crash``: tasks abandoned, timers cancelled, no compensation; retry refused."""
    r = Recorder(spec("crash", [("charge", task("charge")), ("end", exit_())]))
    r.crash("KeyError: 'boom'")
    r.retry()
    return r


@scenario
def begin_refuses_inputs_that_do_not_match_the_variables() -> Recorder:
    """A missing required input and an unknown one are refused at start,
    before any state exists."""
    return Recorder(
        spec("bad-inputs", [("end", exit_())], variables={"amount": variable("float", required=True)}),
        {"amout": 3},
    )


@scenario
def masked_values_stay_out_of_the_journal() -> Recorder:
    """A masked variable is ``***`` in the journal and in failure messages;
    when the run ends for good the state forgets it too."""
    r = Recorder(
        spec(
            "secrets",
            [("charge", task("charge", var("card"), retries=1, backoff=backoff(1.0))), ("end", exit_("done"))],
            variables={"card": variable("str", required=True, masked=True)},
        ),
        {"card": "4111-1111"},
    )
    r.fail("charge", message="card 4111-1111 refused")
    r.fire()
    r.done("charge", "ok")
    return r
