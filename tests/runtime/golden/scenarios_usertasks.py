"""Golden scenarios of user tasks: assigning, claim, release, reassign,
complete and cancel (and their refusals), each timer action, reminders and
their retries, frozen threads, child threads, interrupt handlers, stopping
and retry."""

from __future__ import annotations

from rtspec import (
    exit_,
    field,
    for_each,
    form,
    handler,
    interrupt,
    out,
    spec,
    task,
    thread,
    user_task,
    ut_timer,
    var,
    variable,
    wait_threads,
)

from golden.catalog import scenario
from golden.recorder import Recorder
from wfc.runtime.interpreter import CompleteUserTask, ReleaseUserTask, TaskCompleted, TaskPolicy
from wfc.specs import Backoff

APPROVE = form(
    "approve",
    field("ok", "bool", display_name="Approved?"),
    field("amount", "int"),
    field("note", required=False, description="why"),
)


@scenario
def user_task_claimed_released_reassigned_and_completed() -> Recorder:
    """A group task is claimed, released, reassigned and completed; its
    values are the node output read downstream. Refused: claiming a task
    assigned to another user, releasing one without a user, completing with
    values that do not fit the form (each field named), completing by
    another user than the assignee, and any input once it is DONE."""
    r = Recorder(
        spec(
            "approval",
            [
                ("ut", user_task("approve", group="finance", notes="refund of order 7")),
                ("pay", task("pay", out("ut", "amount"))),
                ("end", exit_(out("ut"))),
            ],
            forms=[APPROVE],
        )
    )
    task_id = r.user_task()
    r.release()
    r.claim("ann")
    r.claim("ann")
    r.claim("bob")
    r.release(by="ann")
    r.reassign(user="bob", by="lead")
    r.reassign(group="support", by="lead")
    r.reassign(user="cy", group="finance")
    r.complete({"ok": "yes", "extra": 1}, by="cy")
    r.complete({"ok": True, "amount": 12}, by="dan")
    r.complete({"ok": True, "amount": 12}, by="cy")
    r.feed(CompleteUserTask(task_id=task_id, values={"ok": True, "amount": 1}))
    r.feed(ReleaseUserTask(task_id=task_id))
    r.done("pay")
    return r


@scenario
def user_task_timers_remind_reassign_release_and_cancel() -> Recorder:
    """A task assigned to the customer: a reminder task runs after a day (its
    result changes nothing), a reassign timer gives it to support after
    three, a release timer does nothing to an unassigned task, a cancel
    timer after a week fails the node with USER_TASK_CANCELLED, unhandled:
    the run fails; retry enters the node again with a new task, which is
    completed."""
    day = 86400.0
    r = Recorder(
        spec(
            "card",
            [
                (
                    "ut",
                    user_task(
                        "approve",
                        user=var("customer"),
                        notes="Your card expired",
                        timers=[
                            ut_timer(day, "remind", var("customer"), task="send-card-reminder"),
                            ut_timer(3 * day, "reassign", group="support"),
                            ut_timer(4 * day, "release"),
                            ut_timer(7 * day, "cancel"),
                        ],
                    ),
                ),
                ("end", exit_(out("ut", "amount"))),
            ],
            variables={"customer": variable("str", default="cus-1")},
            forms=[APPROVE],
        )
    )
    r.fire()
    r.done("send-card-reminder", "sent")
    r.fire()
    r.fire()
    r.fire()
    r.retry()
    r.complete({"ok": True, "amount": 5}, by="cus-1")
    return r


@scenario
def user_task_reminder_retried_redelivered_and_abandoned() -> Recorder:
    """A reminder that fails is retried after its task policy's backoff (the
    one retry scheduler); an attempt that lost its process is dispatched
    again; the one still running when the task is completed is abandoned
    and its late result ignored."""
    r = Recorder(
        spec(
            "nag",
            [
                ("ut", user_task("approve", group="g", timers=[ut_timer(60, "remind", "hi", task="nag")])),
                ("end", exit_()),
            ],
            forms=[APPROVE],
        ),
        policies={"nag": TaskPolicy(retries=2, backoff=Backoff(initial=10, multiplier=2, maximum=60))},
    )
    r.fire()
    r.fail("nag", message="smtp down")
    r.fire()
    r.redeliver("nag")
    late = r.dispatch_id("nag")
    r.complete({"ok": False, "amount": 0})
    r.feed(TaskCompleted(dispatch_id=late))
    return r


@scenario
def user_task_cancel_handled_by_its_handler() -> Recorder:
    """Cancelling a user task fails its node with USER_TASK_CANCELLED, which
    a handler takes; the run goes on after the handler."""
    r = Recorder(
        spec(
            "handled",
            [
                (
                    "ut",
                    user_task("approve", user="ann", handlers=[handler("error", "fallback", "USER_TASK_CANCELLED")]),
                ),
                ("end", exit_()),
            ],
            threads={
                "fallback": thread([("note", task("note")), ("end", exit_())], variables={"failure": variable("json")})
            },
            forms=[APPROVE],
        )
    )
    r.cancel_task("changed my mind", by="ann")
    r.done("note")
    return r


@scenario
def user_task_kept_open_while_the_run_is_halted() -> Recorder:
    """Halting withdraws the task's timers keeping the time left; people
    still claim and complete it; the node moves on at resume. A task
    cancelled while halted fails its node at resume."""
    r = Recorder(
        spec(
            "halted",
            [
                ("ut", user_task("approve", group="g", timers=[ut_timer(100, "cancel")])),
                ("second", user_task("approve", group="g", timers=[ut_timer(100, "reassign", user="boss")])),
                ("end", exit_()),
            ],
            forms=[APPROVE],
        )
    )
    r.halt(after=40.0)
    r.claim("ann")
    r.complete({"ok": True, "amount": 1}, by="ann")
    r.resume(after=500.0)
    r.halt()
    r.cancel_task("no longer needed")
    r.resume()
    return r


@scenario
def user_tasks_of_children_cancelled_when_a_wait_or_the_run_ends() -> Recorder:
    """Each child thread holds its own user task. A FIRST wait that ends
    cancels the other children's tasks (wait-finished); cancelling the run
    cancels every task still open (run-cancelled) and abandons a running
    reminder."""
    r = Recorder(
        spec(
            "children",
            [
                ("each", for_each("review", ["a", "b", "c"])),
                ("w", wait_threads("each", strategy="FIRST")),
                ("again", for_each("review", ["d", "e"])),
                ("w2", wait_threads("again")),
                ("end", exit_(out("w2"))),
            ],
            threads={
                "review": thread(
                    [
                        ("ut", user_task("approve", user=var("item"), timers=[ut_timer(60, "remind", task="nag")])),
                        ("end", exit_(out("ut", "amount"))),
                    ],
                    variables={"item": variable("str", required=True)},
                )
            },
            forms=[APPROVE],
        )
    )
    r.complete({"ok": True, "amount": 2}, by="b", nth=1)
    r.fire()
    r.cancel("customer left")
    return r


@scenario
def user_task_in_an_interrupt_handler() -> Recorder:
    """An interrupt freezes the main thread and pauses its task's timer; the
    handler thread assigns a user task of its own; the main task completed
    meanwhile moves on only once the handler completed."""
    r = Recorder(
        spec(
            "interrupted",
            [
                ("ut", user_task("approve", group="g", timers=[ut_timer(100, "cancel")])),
                ("end", exit_(out("ut", "ok"))),
            ],
            threads={
                "on-audit": thread(
                    [("check", user_task("approve", user=var("event"))), ("end", exit_())],
                    variables={"event": variable("json")},
                )
            },
            interrupts=[interrupt("audit", "on-audit")],
            forms=[APPROVE],
        )
    )
    r.event("audit", "auditor", after=30.0)
    r.complete({"ok": True, "amount": 1}, nth=0)
    r.complete({"ok": True, "amount": 2}, by="auditor")
    return r


@scenario
def user_task_nobody_can_take_fails_and_a_crash_cancels_open_tasks() -> Recorder:
    """A user task whose user and group are both empty fails its node with
    EXPRESSION_ERROR, which a handler takes; the next task is cancelled by
    a crash of the run, so its row is not left open."""
    r = Recorder(
        spec(
            "nobody",
            [
                (
                    "ut",
                    user_task(
                        "approve",
                        user=var("who"),
                        group=var("team"),
                        handlers=[handler("error", "fallback", "EXPRESSION_ERROR")],
                    ),
                ),
                ("next", user_task("approve", group="ops")),
                ("end", exit_()),
            ],
            variables={"who": variable("str"), "team": variable("str", default="")},
            threads={"fallback": thread([("end", exit_())], variables={"failure": variable("json")})},
            forms=[APPROVE],
        )
    )
    r.claim("ann")
    r.crash("the store went away")
    return r
