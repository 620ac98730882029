"""Golden scenarios of operator commands: cancel, halt and resume (timers
paused, results kept), and the refusals of commands that make no sense."""

from __future__ import annotations

from rtspec import exit_, out, sleep, spawn, spec, task, thread, wait, wait_threads

from golden.catalog import scenario
from golden.recorder import Recorder
from wfc.runtime.interpreter import TaskCompleted


@scenario
def cancel_abandons_tasks_and_timers() -> Recorder:
    """Cancel stops every thread: running tasks abandoned, timers cancelled,
    the run CANCELLED; a second cancel is refused, late results and events
    change nothing."""
    r = Recorder(
        spec(
            "cancel",
            [("a", spawn("napper")), ("charge", task("charge")), ("w", wait_threads("a")), ("end", exit_())],
            threads={"napper": thread([("nap", sleep(60)), ("end", exit_())])},
        )
    )
    dispatch = r.dispatch_id("charge")
    r.cancel("customer left")
    r.cancel()
    r.feed(TaskCompleted(dispatch_id=dispatch, output="late"))
    r.event("anything")
    return r


@scenario
def halt_pauses_timers_and_keeps_results_until_resumed() -> Recorder:
    """Halt freezes every thread: a sleep's timer is withdrawn with the time
    left kept, a task result arriving is kept; a second halt is refused.
    Resume re-arms the timer with the time left and applies the kept result;
    a second resume is refused."""
    r = Recorder(
        spec(
            "halt",
            [
                ("a", spawn("napper")),
                ("charge", task("charge")),
                ("w", wait_threads("a")),
                ("end", exit_(out("charge"))),
            ],
            threads={"napper": thread([("nap", sleep(60)), ("end", exit_())])},
        )
    )
    r.halt("maintenance")
    r.halt()
    r.done("charge", "kept")
    r.resume()
    r.resume()
    r.fire()
    return r


@scenario
def halted_run_queues_events_and_cancel_still_works() -> Recorder:
    """An event for a halted run's wait is kept until it resumes; cancel of a
    halted run ends it CANCELLED."""
    r = Recorder(spec("halt-events", [("approval", wait("approved", timeout=50)), ("end", exit_(out("approval")))]))
    r.halt()
    r.event("approved", "yes")
    r.cancel("no longer needed")
    return r


@scenario
def finished_run_refuses_every_command() -> Recorder:
    """A COMPLETED run refuses halt, resume, cancel and retry with a reason,
    and changes nothing."""
    r = Recorder(spec("finished", [("charge", task("charge")), ("end", exit_())]))
    r.done("charge")
    r.halt()
    r.resume()
    r.cancel()
    r.cancel(compensate=True)
    r.retry()
    return r


@scenario
def running_run_refuses_resume_and_retry() -> Recorder:
    """A RUNNING run refuses resume (not halted) and retry (not failed)."""
    r = Recorder(spec("running", [("charge", task("charge")), ("end", exit_())]))
    r.resume()
    r.retry()
    return r
