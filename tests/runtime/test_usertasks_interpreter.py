"""User tasks in the interpreter: assigning, the five inputs, refusals,
timers, reminders, freezing, stopping and retry."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from rtdrive import Driver
from rtspec import (
    edge,
    exit_,
    field,
    for_each,
    form,
    handler,
    interrupt,
    mut,
    out,
    spec,
    task,
    thread,
    undo,
    user_task,
    ut_timer,
    var,
    variable,
    wait_threads,
)
from rtusertasks import Index, open_tasks, the_task

from wfc.runtime.interpreter import (
    AbandonTask,
    Cancel,
    CancelTimer,
    CancelUserTask,
    ClaimUserTask,
    CompleteUserTask,
    DispatchTask,
    EventArrived,
    Halt,
    Input,
    ReassignUserTask,
    Redeliver,
    ReleaseUserTask,
    Resume,
    Retry,
    SetTimer,
    TaskCompleted,
    TaskFailed,
    TaskPolicy,
    TimerFired,
    Transition,
    UserTaskChanged,
    UserTaskInput,
    UserTaskRefusal,
    crash,
    derive_spec_info,
    user_task_id,
    user_task_refusal,
)
from wfc.runtime.interpreter.state import (
    DoneWait,
    FailedWait,
    RunStatus,
    ThreadStatus,
    UserTaskStatus,
    UserTaskWait,
    encode_state,
)
from wfc.specs import Backoff, FieldProblem, WorkflowSpec

APPROVE = form("approve", field("ok", "bool"), field("amount", "int"), field("note", required=False))
GOOD = {"ok": True, "amount": 3}


def approval(
    user: Any = None,
    group: Any = "finance",
    timers: list[dict[str, Any]] | None = None,
    notes: Any = None,
    handlers: list[dict[str, Any]] | None = None,
    variables: dict[str, Any] | None = None,
    threads: dict[str, Any] | None = None,
    output: Any = "ut",
) -> WorkflowSpec:
    """``ut`` assigns form ``approve``; the run's output is the node's
    output (that of node ``output``, none if ``None``)."""
    return spec(
        "approval",
        [
            ("ut", user_task("approve", user=user, group=group, notes=notes, timers=timers, handlers=handlers)),
            ("end", exit_(None if output is None else out(output))),
        ],
        variables=variables,
        threads=threads,
        forms=[APPROVE],
    )


class Run(Driver):
    """A driver that also keeps the shell's user task index."""

    def __init__(self, spec: WorkflowSpec, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self.index = Index()
        self.index.apply(self.last.effects)

    def feed(self, event: Input, at: float | None = None) -> Transition:
        transition = super().feed(event, at)
        self.index.apply(transition.effects)
        self.index.matches(self.state)
        return transition

    def task(self, thread: int = 0) -> UserTaskWait:
        return the_task(self.state, thread)

    def refused(self, command: UserTaskInput) -> UserTaskRefusal:
        """``command`` is refused, and stepping it changes nothing."""
        found = user_task_refusal(self.state, self.spec, command)
        assert found is not None, f"{command!r} was not refused"
        before = encode_state(self.state)
        transition = self.feed(command)
        assert transition.journal == [] and transition.effects == []
        assert encode_state(transition.state) == before
        return found

    def changes(self) -> list[UserTaskChanged]:
        return [e for e in self.last.effects if isinstance(e, UserTaskChanged)]


# ------------------------------------------------------------ assigning


def test_entering_the_node_assigns_the_task_to_its_group() -> None:
    run = Run(approval(notes="please look"), now=100.0)
    wait = run.task()
    assert wait.id == user_task_id("r1", 0, "ut", 1)
    assert wait.id.startswith("ut-") and len(wait.id) == 23
    assert (wait.status, wait.user, wait.group, wait.notes, wait.form) == (
        UserTaskStatus.UNASSIGNED,
        None,
        "finance",
        "please look",
        "approve",
    )
    assert run.entries("USER_TASK_ASSIGNED") == [
        {
            "user_task": wait.id,
            "form": "approve",
            "group": "finance",
            "notes": "please look",
            "status": "UNASSIGNED",
        }
    ]
    assert run.changes() == [
        UserTaskChanged(
            id=wait.id,
            thread=0,
            node="ut",
            form="approve",
            status=UserTaskStatus.UNASSIGNED,
            created_at=100.0,
            updated_at=100.0,
            group="finance",
            notes="please look",
        )
    ]
    assert run.state.status is RunStatus.RUNNING


def test_a_task_with_a_user_is_assigned_to_them() -> None:
    run = Run(approval(user=var("who"), group=None, variables={"who": variable("str", default="ann")}))
    wait = run.task()
    assert (wait.status, wait.user, wait.group) == (UserTaskStatus.ASSIGNED, "ann", None)
    assert run.index.rows[wait.id].user == "ann"


def test_ids_differ_per_run_thread_node_and_visit() -> None:
    ids = {
        user_task_id("r1", 0, "ut", 1),
        user_task_id("r2", 0, "ut", 1),
        user_task_id("r1", 1, "ut", 1),
        user_task_id("r1", 0, "other", 1),
        user_task_id("r1", 0, "ut", 2),
    }
    assert len(ids) == 5
    assert Run(approval(), run_id="r2").task().id == user_task_id("r2", 0, "ut", 1)


def test_a_null_or_empty_user_falls_back_to_the_group() -> None:
    s = approval(user=var("who"), variables={"who": variable("str")})
    assert Run(s).task().status is UserTaskStatus.UNASSIGNED
    empty = approval(user=var("who"), group="finance", variables={"who": variable("str", default="")})
    assert Run(empty).task().user is None


@pytest.mark.parametrize(
    ("user", "group", "says"),
    [
        (None, None, "user task 'ut' has neither a user nor a group"),
        ("", "", "user task 'ut' has neither a user nor a group"),
        (5, "finance", "the user of user task 'ut' must be a string, got int 5"),
        (None, ["a"], "the group of user task 'ut' must be a string, got list"),
    ],
)
def test_a_task_nobody_can_take_fails_the_node_with_an_expression_error(user: Any, group: Any, says: str) -> None:
    """Values the spec checks cannot catch: they come from variables."""
    variables = {"u": variable("json", default=user), "g": variable("json", default=group)}
    run = Run(approval(user=var("u"), group=var("g"), variables=variables))
    failure = run.state.failure
    assert failure is not None and (failure.name, failure.node) == ("EXPRESSION_ERROR", "ut")
    assert says in failure.message
    assert run.index.rows == {}


def test_an_expression_error_on_assigning_can_be_handled() -> None:
    s = approval(
        user=var("nobody"),
        group=None,
        variables={"nobody": variable("str")},
        handlers=[handler("error", "fallback", "EXPRESSION_ERROR")],
        threads={"fallback": thread([("end", exit_())], variables={"failure": variable("json")})},
        output=None,
    )
    run = Run(s)
    assert run.state.status is RunStatus.COMPLETED


def test_spec_info_names_reminder_tasks() -> None:
    s = approval(timers=[ut_timer(60, "remind", "hi", task="nag"), ut_timer(90, "cancel")])
    assert "nag" in derive_spec_info(s).tasks


# ------------------------------------------------------------ claim, release, reassign


def test_a_group_task_is_claimed_then_released_back_to_the_group() -> None:
    run = Run(approval())
    task_id = run.task().id
    run.feed(ClaimUserTask(task_id=task_id, user="ann"))
    assert (run.task().status, run.task().user) == (UserTaskStatus.ASSIGNED, "ann")
    assert run.entries("USER_TASK_CLAIMED") == [{"user_task": task_id, "user": "ann", "by": "ann"}]
    assert run.changes()[0].by == "ann"
    run.feed(ReleaseUserTask(task_id=task_id, by="ann"))
    assert (run.task().status, run.task().user, run.task().group) == (UserTaskStatus.UNASSIGNED, None, "finance")
    assert run.entries("USER_TASK_RELEASED") == [{"user_task": task_id, "user": "ann", "group": "finance", "by": "ann"}]


def test_claiming_a_task_already_yours_changes_nothing() -> None:
    run = Run(approval(user="ann"))
    command = ClaimUserTask(task_id=run.task().id, user="ann")
    assert user_task_refusal(run.state, run.spec, command) is None
    again = run.feed(command)
    assert again.journal == [] and again.effects == []


def test_claiming_a_task_assigned_to_someone_else_is_a_conflict() -> None:
    run = Run(approval(user="ann"))
    refusal = run.refused(ClaimUserTask(task_id=run.task().id, user="bob"))
    assert (refusal.kind, refusal.status) == ("conflict", UserTaskStatus.ASSIGNED)
    assert "assigned to 'ann'" in refusal.message


def test_releasing_needs_an_assigned_task_with_a_group() -> None:
    run = Run(approval())
    unassigned = run.refused(ReleaseUserTask(task_id=run.task().id))
    assert (unassigned.kind, unassigned.message) == ("conflict", "it is not assigned to anyone")
    lonely = Run(approval(user="ann", group=None))
    no_group = lonely.refused(ReleaseUserTask(task_id=lonely.task().id, by="ann"))
    assert no_group.kind == "conflict" and "no group to release it to; reassign it instead" in no_group.message


def test_reassigning_a_user_keeps_the_group_and_a_group_alone_clears_the_user() -> None:
    run = Run(approval(user="ann"))
    task_id = run.task().id
    run.feed(ReassignUserTask(task_id=task_id, user="bob", by="lead"))
    assert (run.task().status, run.task().user, run.task().group) == (UserTaskStatus.ASSIGNED, "bob", "finance")
    run.feed(ReassignUserTask(task_id=task_id, group="support"))
    assert (run.task().status, run.task().user, run.task().group) == (UserTaskStatus.UNASSIGNED, None, "support")
    run.feed(ReassignUserTask(task_id=task_id, user="cy", group="ops", by="lead"))
    assert (run.task().status, run.task().user, run.task().group) == (UserTaskStatus.ASSIGNED, "cy", "ops")
    assert run.entries("USER_TASK_REASSIGNED") == [
        {"user_task": task_id, "user": "bob", "group": "finance", "status": "ASSIGNED", "by": "lead"},
        {"user_task": task_id, "group": "support", "status": "UNASSIGNED"},
        {"user_task": task_id, "user": "cy", "group": "ops", "status": "ASSIGNED", "by": "lead"},
    ]


def test_reassigning_to_nobody_is_invalid() -> None:
    run = Run(approval())
    refusal = run.refused(ReassignUserTask(task_id=run.task().id, user="", group=None))
    assert refusal.kind == "invalid"
    assert {p.field for p in refusal.problems} == {"user", "group"}


def test_claiming_with_no_user_is_invalid() -> None:
    run = Run(approval())
    refusal = run.refused(ClaimUserTask(task_id=run.task().id, user=""))
    assert refusal.kind == "invalid" and refusal.problems == [FieldProblem("user", "must be a non-empty string")]


# ------------------------------------------------------------ complete


def test_completing_makes_the_values_the_node_output_and_the_flow_goes_on() -> None:
    run = Run(approval(user="ann", timers=[ut_timer(60, "cancel")]))
    task_id = run.task().id
    [timer] = run.timers()
    run.feed(CompleteUserTask(task_id=task_id, values=GOOD, by="ann"))
    assert run.state.status is RunStatus.COMPLETED
    assert run.state.output == {"ok": True, "amount": 3, "note": None}
    assert CancelTimer(timer=timer.timer) in run.last.effects
    [done] = run.changes()
    assert (done.status, done.values, done.by) == (UserTaskStatus.DONE, GOOD, "ann")
    assert run.entries("USER_TASK_COMPLETED") == [
        {"user_task": task_id, "values": {"ok": True, "amount": 3, "note": None}, "by": "ann"}
    ]
    assert run.kinds()[-3:] == ["USER_TASK_COMPLETED", "NODE_ENTERED", "RUN_COMPLETED"]
    assert b"closed_user_tasks" not in encode_state(run.state)  # the row, not the state, remembers a closed task


def test_a_field_of_the_output_is_read_downstream() -> None:
    s = spec(
        "downstream",
        [("ut", user_task("approve", group="g")), ("pay", task("pay", out("ut", "amount"))), ("end", exit_())],
        forms=[APPROVE],
    )
    run = Run(s)
    run.feed(CompleteUserTask(task_id=run.task().id, values={**GOOD, "note": "fine"}))
    assert run.dispatch().args == [3]


def test_an_operator_or_anyone_in_the_group_may_complete() -> None:
    assigned = Run(approval(user="ann"))
    assigned.feed(CompleteUserTask(task_id=assigned.task().id, values=GOOD))  # by=None: an operator
    assert assigned.state.status is RunStatus.COMPLETED
    offered = Run(approval())
    offered.feed(CompleteUserTask(task_id=offered.task().id, values=GOOD, by="bob"))
    assert offered.state.status is RunStatus.COMPLETED


def test_completing_a_task_assigned_to_another_user_is_a_conflict() -> None:
    run = Run(approval(user="ann"))
    refusal = run.refused(CompleteUserTask(task_id=run.task().id, values=GOOD, by="bob"))
    assert (refusal.kind, refusal.status, refusal.message) == (
        "conflict",
        UserTaskStatus.ASSIGNED,
        "it is assigned to 'ann'",
    )


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({}, ["ok", "amount"]),
        ({"ok": True}, ["amount"]),
        ({"ok": "yes", "amount": 3}, ["ok"]),
        ({"ok": True, "amount": 2.5}, ["amount"]),
        ({"ok": True, "amount": True}, ["amount"]),
        ({"ok": True, "amount": 3, "note": 7}, ["note"]),
        ({"ok": True, "amount": 3, "extra": 1}, ["extra"]),
        ({"ok": None, "amount": "x", "bogus": 1}, ["bogus", "ok", "amount"]),
    ],
)
def test_values_that_do_not_fit_the_form_are_invalid_naming_each_field(
    values: dict[str, Any], fields: list[str]
) -> None:
    run = Run(approval())
    refusal = run.refused(CompleteUserTask(task_id=run.task().id, values=values, by="ann"))
    assert refusal.kind == "invalid" and refusal.status is UserTaskStatus.UNASSIGNED
    assert [p.field for p in refusal.problems] == fields
    for name in fields:
        assert name in refusal.message
    assert run.task().status is UserTaskStatus.UNASSIGNED  # still open


def test_every_input_to_a_done_task_is_refused_as_not_open() -> None:
    """The run keeps no closed tasks (its state would grow with every loop
    through the node): the shell tells the conflict from the stored row
    (tests/runtime/test_user_tasks_engine.py)."""
    run = Run(approval())
    task_id = run.task().id
    run.feed(CompleteUserTask(task_id=task_id, values=GOOD))
    for command in [
        ClaimUserTask(task_id=task_id, user="ann"),
        ReleaseUserTask(task_id=task_id),
        ReassignUserTask(task_id=task_id, user="bob"),
        CompleteUserTask(task_id=task_id, values=GOOD),
        CancelUserTask(task_id=task_id),
    ]:
        refusal = user_task_refusal(run.state, run.spec, command)
        assert refusal is not None and (refusal.kind, refusal.status) == ("unknown", None)
        assert "has no open user task" in refusal.message
        assert run.feed(command).journal == []


def test_an_unknown_task_id_is_unknown() -> None:
    run = Run(approval())
    refusal = run.refused(CompleteUserTask(task_id="ut-00000000000000000000", values=GOOD))
    assert (refusal.kind, refusal.status) == ("unknown", None)
    assert "ut-00000000000000000000" in refusal.message


# ------------------------------------------------------------ cancel


def test_cancelling_fails_the_node_with_user_task_cancelled() -> None:
    run = Run(approval(timers=[ut_timer(60, "remind", task="nag")]))
    task_id = run.task().id
    run.feed(CancelUserTask(task_id=task_id, reason="not needed", by="lead"))
    assert run.state.status is RunStatus.FAILED
    failure = run.state.failure
    assert failure is not None
    assert (failure.name, failure.kind, failure.message, failure.node) == (
        "USER_TASK_CANCELLED",
        "error",
        "not needed",
        "ut",
    )
    assert run.entries("USER_TASK_CANCELLED") == [{"user_task": task_id, "reason": "not needed", "by": "lead"}]
    [row] = run.changes()
    assert (row.status, row.by) == (UserTaskStatus.CANCELLED, "lead")
    assert any(isinstance(e, CancelTimer) for e in run.last.effects)
    refusal = user_task_refusal(run.state, run.spec, CompleteUserTask(task_id=task_id, values=GOOD))
    assert refusal is not None and refusal.kind == "unknown"


def test_a_cancelled_task_without_a_reason_says_cancelled_and_can_be_handled() -> None:
    s = approval(
        handlers=[handler("error", "fallback", "USER_TASK_CANCELLED")],
        threads={"fallback": thread([("end", exit_())], variables={"failure": variable("json")})},
        output=None,
    )
    run = Run(s)
    run.feed(CancelUserTask(task_id=run.task().id))
    assert run.entries("USER_TASK_CANCELLED")[0]["reason"] == "cancelled"
    assert run.entries("FAILURE_HANDLER_STARTED")[0]["error"] == "USER_TASK_CANCELLED"
    assert run.state.status is RunStatus.COMPLETED


def test_retry_after_a_cancel_enters_the_node_again_with_a_new_task() -> None:
    run = Run(approval())
    first = run.task().id
    run.feed(CancelUserTask(task_id=first, reason="oops"))
    assert run.state.status is RunStatus.FAILED
    run.feed(Retry())
    second = run.task().id
    assert second == user_task_id("r1", 0, "ut", 2) != first
    assert run.index.status(first) is UserTaskStatus.CANCELLED
    assert run.index.rows[second].status is UserTaskStatus.UNASSIGNED
    run.feed(CompleteUserTask(task_id=second, values=GOOD))
    assert run.state.status is RunStatus.COMPLETED


# ------------------------------------------------------------ timers


def test_a_reassign_timer_gives_the_task_to_its_user_and_group() -> None:
    s = approval(
        user="ann",
        timers=[ut_timer(3 * 86400, "reassign", group=var("escalate"))],
        variables={"escalate": variable("str", default="support")},
    )
    run = Run(s, now=0.0)
    task_id = run.task().id
    [timer] = run.timers()
    assert timer.due == 3 * 86400
    run.fire()
    assert (run.task().status, run.task().user, run.task().group) == (UserTaskStatus.UNASSIGNED, None, "support")
    assert run.entries("USER_TASK_REASSIGNED") == [
        {"user_task": task_id, "group": "support", "status": "UNASSIGNED", "timer": True}
    ]
    assert run.task().timers == []


def test_a_release_timer_releases_an_assigned_task_and_ignores_one_without_a_user() -> None:
    run = Run(approval(user="ann", timers=[ut_timer(60, "release")]))
    run.fire()
    assert (run.task().status, run.task().user) == (UserTaskStatus.UNASSIGNED, None)
    assert run.entries("USER_TASK_RELEASED")[0]["timer"] is True
    idle = Run(approval(timers=[ut_timer(60, "release")]))
    fired = idle.fire()
    assert fired.effects == [] and idle.task().timers == []
    assert [(e.kind, e.detail["reason"]) for e in fired.journal] == [
        ("USER_TASK_TIMER_SKIPPED", "it is not assigned to anyone")
    ]
    lonely = Run(approval(user="ann", group=None, timers=[ut_timer(60, "release")]))
    assert lonely.fire().journal[0].detail == {
        "user_task": lonely.task().id,
        "action": "release",
        "reason": "it has no group to release it to",
    }
    assert lonely.task().status is UserTaskStatus.ASSIGNED and lonely.changes() == []


def test_a_reassign_timer_to_nobody_changes_nothing_but_the_timer() -> None:
    s = approval(timers=[ut_timer(60, "reassign", user=var("who"))], variables={"who": variable("str")})
    run = Run(s)
    fired = run.fire()
    assert [e.kind for e in fired.journal] == ["USER_TASK_TIMER_SKIPPED"] and fired.effects == []
    assert run.task().group == "finance" and run.task().timers == []


def test_a_cancel_timer_cancels_the_task_and_fails_the_node() -> None:
    run = Run(approval(timers=[ut_timer(7 * 86400, "cancel")]))
    run.fire()
    failure = run.state.failure
    assert failure is not None and failure.name == "USER_TASK_CANCELLED"
    assert failure.message == "not completed within 604800 s"
    [entry] = run.entries("USER_TASK_CANCELLED")
    assert entry["timer"] is True and "by" not in entry


def test_a_timer_after_the_task_closed_does_nothing() -> None:
    run = Run(approval(timers=[ut_timer(60, "cancel")]))
    [timer] = run.timers()
    run.feed(CompleteUserTask(task_id=run.task().id, values=GOOD))
    late = run.feed(TimerFired(timer=timer.timer), at=2000.0)
    assert late.journal == [] and late.effects == []


def test_a_remind_timer_runs_the_reminder_task_and_its_result_changes_nothing() -> None:
    s = approval(user="ann", timers=[ut_timer(86400, "remind", var("who"), "soon", task="nag")],
                 variables={"who": variable("str", default="ann")})  # fmt: skip
    run = Run(s, now=0.0)
    task_id = run.task().id
    run.fire()
    [reminder] = run.dispatched()
    assert (reminder.task, reminder.args, reminder.attempt, reminder.node) == ("nag", ["ann", "soon"], 1, "ut")
    assert reminder.idempotency_key == "r1/0/ut/1/remind/0"
    assert run.task().reminders == [reminder.dispatch_id]
    assert run.entries("USER_TASK_REMINDED") == [
        {"user_task": task_id, "task": "nag", "args": ["ann", "soon"], "dispatch_id": reminder.dispatch_id}
    ]
    done = run.feed(TaskCompleted(dispatch_id=reminder.dispatch_id, output="sent", duration=0.5))
    assert [e.kind for e in done.journal] == ["USER_TASK_REMINDER_COMPLETED"]
    assert done.journal[0].detail == {"user_task": task_id, "task": "nag", "duration": 0.5}
    assert done.effects == []
    assert run.task().reminders == [] and run.task().status is UserTaskStatus.ASSIGNED


def test_a_failed_reminder_is_retried_by_its_task_policy_then_given_up() -> None:
    s = approval(timers=[ut_timer(10, "remind", task="nag")])
    policies = {"nag": TaskPolicy(retries=1, backoff=Backoff(initial=5, multiplier=1, maximum=5))}
    run = Run(s, policies=policies)
    run.fire()
    [first] = run.dispatched()
    failed = run.feed(TaskFailed(dispatch_id=first.dispatch_id, name="TASK_ERROR", message="smtp down"))
    [retry_timer] = [e for e in failed.effects if isinstance(e, SetTimer)]
    assert 2.5 <= retry_timer.due - run.now <= 5
    assert failed.journal[0].kind == "USER_TASK_REMINDER_FAILED" and failed.journal[0].detail["next_attempt"] == 2
    run.fire()
    [second] = run.dispatched()
    assert (second.attempt, second.idempotency_key) == (2, first.idempotency_key)
    last = run.feed(TaskFailed(dispatch_id=second.dispatch_id, name="TASK_ERROR", message="still down"))
    assert last.journal[0].detail["final"] is True and last.effects == []
    assert run.task().status is UserTaskStatus.UNASSIGNED and run.state.status is RunStatus.RUNNING


def test_a_reminder_still_running_when_the_task_closes_is_abandoned() -> None:
    run = Run(approval(timers=[ut_timer(10, "remind", task="nag")]))
    run.fire()
    [reminder] = run.dispatched()
    run.feed(CompleteUserTask(task_id=run.task().id, values=GOOD))
    assert AbandonTask(dispatch_id=reminder.dispatch_id) in run.last.effects
    late = run.feed(TaskCompleted(dispatch_id=reminder.dispatch_id))
    assert late.journal == [] and late.effects == []


def test_a_reminder_that_lost_its_process_is_dispatched_again() -> None:
    run = Run(approval(timers=[ut_timer(10, "remind", "x", task="nag")]))
    run.fire()
    [reminder] = run.dispatched()
    again = run.feed(Redeliver(dispatch_id=reminder.dispatch_id))
    assert again.effects == [reminder]


def test_a_timer_whose_expression_fails_cancels_the_task_and_fails_the_node() -> None:
    s = approval(timers=[ut_timer(10, "reassign", user=var("who", "name"))], variables={"who": variable("json")})
    run = Run(s)
    task_id = run.task().id
    run.fire()
    failure = run.state.failure
    assert failure is not None and (failure.name, failure.node) == ("EXPRESSION_ERROR", "ut")
    assert run.index.status(task_id) is UserTaskStatus.CANCELLED
    assert "reassign timer failed" in run.entries("USER_TASK_CANCELLED")[0]["reason"]


# ------------------------------------------------------------ frozen threads


def test_halting_pauses_the_timers_and_resuming_rearms_them_with_the_time_left() -> None:
    run = Run(approval(timers=[ut_timer(100, "cancel"), ut_timer(50, "remind", task="nag")]), now=0.0)
    timers = {t.timer for t in run.timers()}
    run.feed(Halt(), at=20.0)
    assert {e.timer for e in run.last.effects if isinstance(e, CancelTimer)} == timers
    assert [t.remaining for t in run.task().timers] == [80.0, 30.0]
    run.feed(Resume(), at=500.0)
    assert sorted(t.due for t in run.timers()) == [530.0, 580.0]


def test_people_act_on_the_task_of_a_halted_run_and_completion_goes_on_at_resume() -> None:
    run = Run(approval())
    task_id = run.task().id
    run.feed(Halt())
    run.feed(ClaimUserTask(task_id=task_id, user="ann"))
    run.feed(ReassignUserTask(task_id=task_id, user="bob"))
    run.feed(ReleaseUserTask(task_id=task_id))
    run.feed(CompleteUserTask(task_id=task_id, values=GOOD, by="cy"))
    assert isinstance(run.state.root.wait, DoneWait) and run.state.status is RunStatus.HALTED
    assert run.index.status(task_id) is UserTaskStatus.DONE
    run.feed(Resume())
    assert run.state.status is RunStatus.COMPLETED and run.state.output == {**GOOD, "note": None}


def test_a_task_cancelled_while_halted_fails_its_node_at_resume() -> None:
    run = Run(approval())
    run.feed(Halt())
    run.feed(CancelUserTask(task_id=run.task().id, reason="gone"))
    assert isinstance(run.state.root.wait, FailedWait) and run.state.status is RunStatus.HALTED
    run.feed(Resume())
    assert run.state.status is RunStatus.FAILED and run.state.failure is not None
    assert run.state.failure.name == "USER_TASK_CANCELLED"


def test_an_interrupt_freezes_the_task_timers_and_a_handler_can_hold_a_user_task() -> None:
    s = spec(
        "interrupted",
        [("ut", user_task("approve", group="g", timers=[ut_timer(100, "cancel")])), ("end", exit_(out("ut")))],
        threads={
            "on-ask": thread(
                [("check", user_task("approve", user="auditor")), ("end", exit_())],
                variables={"event": variable("json")},
            )
        },
        interrupts=[interrupt("ask", "on-ask")],
        forms=[APPROVE],
    )
    run = Run(s, now=0.0)
    main_task = run.task().id
    run.feed(EventArrived(event_id="e1", name="ask"), at=40.0)
    assert run.task().timers[0].remaining == 60.0
    handler_task = run.task(1)
    assert (handler_task.user, run.state.threads[1].kind) == ("auditor", "interrupt")
    run.feed(CompleteUserTask(task_id=main_task, values=GOOD))  # kept until the thread thaws
    assert isinstance(run.state.root.wait, DoneWait)
    run.feed(CompleteUserTask(task_id=handler_task.id, values=GOOD, by="auditor"))
    assert run.state.status is RunStatus.COMPLETED


# ------------------------------------------------------------ stopping


def children_spec(strategy: str = "ALL") -> WorkflowSpec:
    return spec(
        "children",
        [("each", for_each("review", ["a", "b"])), ("w", wait_threads("each", strategy=strategy)),
         ("end", exit_(out("w")))],
        threads={
            "review": thread(
                [("ut", user_task("approve", user=var("item"), timers=[ut_timer(60, "remind", task="nag")])),
                 ("end", exit_(out("ut", "amount")))],
                variables={"item": variable("str", required=True)},
            )
        },
        forms=[APPROVE],
    )  # fmt: skip


def test_user_tasks_in_child_threads_are_their_own() -> None:
    run = Run(children_spec())
    tasks = open_tasks(run.state)
    assert sorted((number, wait.user) for number, wait in tasks.values()) == [(1, "a"), (2, "b")]
    for task_id, (number, _) in tasks.items():
        run.feed(CompleteUserTask(task_id=task_id, values={"ok": True, "amount": number}, by=run.task(number).user))
    assert run.state.output == [1, 2]


def test_a_wait_that_no_longer_needs_a_child_cancels_its_task() -> None:
    run = Run(children_spec("FIRST"))
    tasks = open_tasks(run.state)
    first = next(k for k, (n, _) in tasks.items() if n == 1)
    other = next(k for k, (n, _) in tasks.items() if n == 2)
    run.feed(CompleteUserTask(task_id=first, values=GOOD))
    assert run.state.status is RunStatus.COMPLETED
    assert run.index.status(other) is UserTaskStatus.CANCELLED
    assert {"user_task": other, "reason": "wait-finished"} in run.entries("USER_TASK_CANCELLED")


def test_a_cancelled_child_task_fails_the_wait_with_child_failure() -> None:
    run = Run(children_spec())
    task_id = next(k for k, (n, _) in open_tasks(run.state).items() if n == 1)
    run.feed(CancelUserTask(task_id=task_id, reason="nope"))
    failure = run.state.failure
    assert failure is not None and failure.name == "CHILD_FAILURE" and "USER_TASK_CANCELLED" in failure.message
    assert run.index.open() == {}
    assert [e["reason"] for e in run.entries("USER_TASK_CANCELLED")] == ["nope", "wait-failed"]


def test_cancelling_the_run_cancels_every_open_task_and_abandons_reminders() -> None:
    run = Run(children_spec())
    run.fire()
    reminders = [d.dispatch_id for d in run.dispatched()]
    run.fire()
    reminders += [d.dispatch_id for d in run.dispatched()]
    run.feed(Cancel(reason="customer left"))
    assert run.state.status is RunStatus.CANCELLED
    assert run.index.open() == {} and len(run.index.rows) == 2
    assert [e["reason"] for e in run.entries("USER_TASK_CANCELLED")] == ["run-cancelled", "run-cancelled"]
    abandoned = {e.dispatch_id for e in run.last.effects if isinstance(e, AbandonTask)}
    assert abandoned == set(reminders) and len(reminders) == 2


def test_retry_of_a_failed_run_gives_the_children_new_tasks() -> None:
    run = Run(children_spec())
    tasks = open_tasks(run.state)
    first = next(k for k, (n, _) in tasks.items() if n == 1)
    run.feed(CancelUserTask(task_id=first))
    assert run.state.status is RunStatus.FAILED
    run.feed(Retry())
    now_open = open_tasks(run.state)
    assert len(now_open) == 2 and not set(now_open) & set(tasks)
    assert all(run.state.threads[n].status is ThreadStatus.RUNNING for n, _ in now_open.values())


def test_a_crash_cancels_the_open_tasks_so_the_index_is_right() -> None:
    run = Run(children_spec())
    crashed = crash(run.state, run.spec, "boom", 2000.0)
    run.index.apply(crashed.effects)
    assert run.index.open() == {}
    assert {e.detail["reason"] for e in crashed.journal if e.kind == "USER_TASK_CANCELLED"} == {"run-failed"}
    assert crashed.state.status is RunStatus.FAILED


def test_a_task_input_to_a_finished_run_is_refused() -> None:
    run = Run(approval())
    task_id = run.task().id
    run.feed(Cancel())
    refusal = run.refused(CompleteUserTask(task_id=task_id, values=GOOD))
    assert refusal.kind == "unknown"


def test_the_wait_round_trips_through_json() -> None:
    run = Run(approval(timers=[ut_timer(10, "remind", task="nag")]))
    run.fire()
    run.feed(TaskFailed(dispatch_id=run.dispatched()[0].dispatch_id, name="TASK_ERROR"))
    state = run.state
    decoded = msgspec.json.decode(encode_state(state), type=type(state))
    assert decoded.root.wait == state.root.wait
    assert not any(isinstance(e, DispatchTask) for e in run.last.effects)  # the retry waits for its backoff


def test_compensating_the_run_cancels_its_open_tasks() -> None:
    s = spec(
        "saga",
        [
            ("book", task("book", compensation=undo("unbook"))),
            ("each", for_each("review", ["a"])),
            ("fail", task("charge")),
            ("end", exit_()),
        ],
        threads={
            "review": thread(
                [("ut", user_task("approve", user=var("item"))), ("end", exit_())],
                variables={"item": variable("str", required=True)},
            )
        },
        forms=[APPROVE],
    )
    run = Run(s)
    run.finish("book")
    task_id = run.task(1).id
    run.break_("charge", name="declined", business=True)
    assert run.state.saga is not None
    assert run.index.status(task_id) is UserTaskStatus.CANCELLED
    assert run.entries("USER_TASK_CANCELLED") == [{"user_task": task_id, "reason": "run-compensating"}]


def test_a_failed_interrupt_handler_cancels_the_task_it_froze_and_retry_assigns_a_new_one() -> None:
    s = spec(
        "interrupted",
        [("ut", user_task("approve", group="g")), ("end", exit_())],
        threads={"on-kill": thread([("f", task("kill")), ("end", exit_())], variables={"event": variable("json")})},
        interrupts=[interrupt("kill", "on-kill")],
        forms=[APPROVE],
    )
    run = Run(s)
    first = run.task().id
    run.feed(EventArrived(event_id="e1", name="kill"))
    run.break_("kill")
    assert run.state.status is RunStatus.FAILED
    assert run.entries("USER_TASK_CANCELLED") == [{"user_task": first, "reason": "thread-failed"}]
    run.feed(Retry())
    run.finish("kill")
    second = run.task().id
    assert second != first and run.index.rows[second].status is UserTaskStatus.UNASSIGNED
    run.feed(CompleteUserTask(task_id=second, values=GOOD))
    assert run.state.status is RunStatus.COMPLETED


def test_secrets_stay_out_of_the_row_and_the_journal() -> None:
    s = spec(
        "secret",
        [
            ("ut", user_task("approve", group="g", notes=var("pin"),
                             edges=[edge("end", None, mut("pin", "assign", out("ut", "note")))])),
            ("end", exit_()),
        ],
        variables={"pin": variable("str", default="1234", masked=True)},
        forms=[APPROVE],
    )  # fmt: skip
    run = Run(s)
    assert run.task().notes == "***" and run.changes()[0].notes == "***"
    run.feed(CompleteUserTask(task_id=run.task().id, values={**GOOD, "note": "9999"}))
    [row] = [e for e in run.last.effects if isinstance(e, UserTaskChanged)]
    assert row.values == {"ok": "***", "amount": "***", "note": "***"}
    assert run.entries("USER_TASK_COMPLETED")[0]["values"] == "***"
    assert "9999" not in str(run.last.journal)


def test_a_reminder_retry_waiting_for_its_backoff_pauses_with_the_run() -> None:
    s = approval(timers=[ut_timer(10, "remind", task="nag")])
    policies = {"nag": TaskPolicy(retries=1, backoff=Backoff(initial=8, multiplier=1, maximum=8))}
    run = Run(s, policies=policies, now=0.0)
    run.fire()
    run.feed(TaskFailed(dispatch_id=run.dispatched()[0].dispatch_id, name="TASK_ERROR"), at=10.0)
    [backoff] = run.timers()
    run.feed(Halt(), at=11.0)
    assert CancelTimer(timer=backoff.timer) in run.last.effects
    [paused] = run.task().reminder_attempts
    assert paused.timer is None and paused.remaining == backoff.due - 11.0
    run.feed(Resume(), at=100.0)
    [again] = run.timers()
    assert again.due == 100.0 + backoff.due - 11.0
    run.fire()
    assert [d.attempt for d in run.dispatched()] == [2]
