"""Golden scenarios of compensation (sagas): an unhandled failure
compensating completed steps in reverse order, a compensation retried then
failing for good and retried by an operator, the ``compensate`` node, a
cancel that compensates (draining a task still running)."""

from __future__ import annotations

from rtspec import compensate, exit_, handler, out, spec, task, thread, undo, variable

from golden.catalog import scenario
from golden.recorder import Recorder
from wfc.specs import WorkflowSpec


def _checkout(ship_handlers: list[dict[str, object]] | None = None, release_retries: int = 2) -> WorkflowSpec:
    return spec(
        "checkout",
        [
            ("charge", task("charge", compensation=undo("refund", out("charge", "id")))),
            ("reserve", task("reserve", compensation=undo("release", out("reserve", "id"), retries=release_retries))),
            ("ship", task("ship", handlers=ship_handlers)),
            ("end", exit_("shipped")),
        ],
        threads={
            "undo-all": thread([("tell", task("notify")), ("c", compensate())], variables={"failure": variable("json")})
        },
    )


@scenario
def unhandled_failure_compensates_completed_steps_in_reverse() -> Recorder:
    """The run's unhandled failure runs the compensations of its completed
    steps, last completed first, each its own dispatch with its own key;
    the run ends COMPENSATED."""
    r = Recorder(_checkout())
    r.done("charge", {"id": "pay-1"})
    r.done("reserve", {"id": "rsv-1"})
    r.fail("ship", "carrier-down", "no carrier", business=True)
    r.done("release")
    r.done("refund")
    return r


@scenario
def compensation_failing_for_good_fails_the_run_until_retried() -> Recorder:
    """A compensation that fails is retried with backoff; with no retry
    left the run is FAILED and flagged (``compensation_failed``), the later
    compensations skipped; an operator retry runs it again and compensation
    goes on."""
    r = Recorder(_checkout(release_retries=1))
    r.done("charge", {"id": "pay-1"})
    r.done("reserve", {"id": "rsv-1"})
    r.fail("ship", "TASK_ERROR", "carrier down")
    r.fail("release", "TASK_ERROR", "warehouse down")
    r.fire()
    r.fail("release", "TASK_ERROR", "warehouse still down")
    r.retry()
    r.done("release")
    r.done("refund")
    return r


@scenario
def compensate_node_in_a_handler_compensates_the_run() -> Recorder:
    """A handler thread reaching a ``compensate`` node compensates every
    completed step, then the run ends COMPENSATED with the handled failure."""
    r = Recorder(_checkout(ship_handlers=[handler("any", "undo-all")]))
    r.done("charge", {"id": "pay-1"})
    r.done("reserve", {"id": "rsv-1"})
    r.fail("ship", "TASK_ERROR", "carrier down")
    r.done("notify")
    r.done("release")
    r.done("refund")
    return r


@scenario
def cancel_with_compensate_drains_the_running_task_first() -> Recorder:
    """``cancel(compensate=True)`` stops the threads but awaits the task
    still running; once it completed, its step is compensated too, in
    reverse order; the run ends COMPENSATED."""
    r = Recorder(_checkout())
    r.done("charge", {"id": "pay-1"})
    r.cancel("customer asked", compensate=True)
    r.cancel("again", compensate=True)
    r.done("reserve", {"id": "rsv-1"})
    r.done("release")
    r.done("refund")
    return r


@scenario
def failure_with_nothing_to_compensate_just_fails() -> Recorder:
    """With no completed compensable step, an unhandled failure ends the run
    FAILED without a compensation."""
    r = Recorder(_checkout())
    r.fail("charge", "card-declined", "declined", business=True)
    return r


@scenario
def halt_pauses_a_compensation_and_its_retry_timer() -> Recorder:
    """Halting a run while it compensates pauses the compensation: its retry
    timer is withdrawn with the time left and re-armed on resume."""
    r = Recorder(_checkout())
    r.done("charge", {"id": "pay-1"})
    r.fail("reserve", "TASK_ERROR", "no stock service")
    r.fail("refund", "TASK_ERROR", "bank busy")
    r.halt("bank incident", after=0.25)
    r.resume()
    r.fire()
    r.done("refund")
    return r


@scenario
def cancel_with_compensate_when_the_drained_task_fails() -> Recorder:
    """A task drained before compensation that fails leaves nothing to undo
    for its step; a redelivery of the drained attempt and of a compensation
    dispatches it again without a journal entry; the completed steps are
    compensated."""
    r = Recorder(_checkout())
    r.done("charge", {"id": "pay-1"})
    r.cancel(compensate=True)
    r.redeliver("reserve")
    r.fail("reserve", "TASK_ERROR", "stock service down")
    r.redeliver("refund")
    r.done("refund")
    return r


@scenario
def compensation_arguments_that_cannot_be_evaluated_fail_the_step() -> Recorder:
    """A compensation's arguments are evaluated when its step completes; an
    output without the field they read fails the step with
    ``EXPRESSION_ERROR`` (and so the run, compensating what completed before)."""
    r = Recorder(_checkout())
    r.done("charge", {"id": "pay-1"})
    r.done("reserve", {"no-id": True})
    r.done("refund")
    return r
