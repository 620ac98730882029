"""User tasks through the engine, on every store: the inbox index follows
every change as committed (assign, claim, release, reassign, complete,
cancel, run cancelled, timers, retention), the inbox queries, every bad
input refused with its own error and nothing applied, and the audit trail."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, manual_engine
from rtdb import Db
from rtspec import exit_, field, form, handler, lit, out, spec, thread, ut_timer, var, variable
from rtspec import user_task as user_task_node

from wfc.runtime import (
    Engine,
    RunStatus,
    TaskContext,
    UnknownUserTaskError,
    UsageError,
    UserTask,
    UserTaskStateError,
    UserTaskStatus,
    UserTaskValuesError,
)
from wfc.runtime import task as wfc_task

pytestmark = pytest.mark.anyio

APPROVAL = form(
    "approval",
    field("approved", "bool", display_name="Approve?", description="Whether the order may ship"),
    field("comment", "str", required=False),
    field("limit", "float", required=False),
)
VARIABLES = {
    "assignee": variable("str"),
    "team": variable("str", default="support"),
}


def _approval(name: str = "approve", timers: list[dict[str, Any]] | None = None) -> Any:
    return spec(
        name,
        [
            (
                "ask",
                user_task_node("approval", user=var("assignee"), group=var("team"), notes="Approve order 7",
                               timers=timers),
            ),
            ("end", exit_(out("ask"))),
        ],
        variables=VARIABLES,
        forms=[APPROVAL],
    )


APPROVE = _approval()


def _rows(db: Db, run_id: str) -> list[tuple[Any, ...]]:
    return db.rows(
        f"SELECT status, user_id, user_group, notes FROM user_tasks WHERE run_id = '{run_id}' ORDER BY created_at, id"
    )


async def _only_task(engine: Engine, run_id: str) -> UserTask:
    tasks = await engine.list_user_tasks(run_id=run_id)
    assert len(tasks) == 1, tasks
    return tasks[0]


async def test_the_index_follows_every_change_and_the_journal_is_the_audit_trail(db: Db) -> None:
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        run_id = await engine.start("approve", {}, run_id="order-7")
        task = await _only_task(engine, run_id)
        assert (task.status, task.user, task.group, task.notes) == (UserTaskStatus.UNASSIGNED, None, "support",
                                                                     "Approve order 7")  # fmt: skip
        assert (task.workflow, task.version, task.node, task.thread, task.form.name) == ("approve", "1.0", "ask", 0,
                                                                                         "approval")  # fmt: skip
        assert [f.display_name for f in task.form.fields] == ["Approve?", None, None]
        assert _rows(db, run_id) == [("UNASSIGNED", None, "support", "Approve order 7")]

        claimed = await engine.claim_user_task(task.id, "ann")
        assert (claimed.status, claimed.user) == (UserTaskStatus.ASSIGNED, "ann")
        assert _rows(db, run_id) == [("ASSIGNED", "ann", "support", "Approve order 7")]
        again = await engine.claim_user_task(task.id, "ann")  # by its assignee: changes nothing
        assert (again.status, again.user, again.updated_at) == (claimed.status, "ann", claimed.updated_at)

        released = await engine.release_user_task(task.id, by="ann")
        assert (released.status, released.user) == (UserTaskStatus.UNASSIGNED, None)
        assert _rows(db, run_id) == [("UNASSIGNED", None, "support", "Approve order 7")]

        to_bob = await engine.reassign_user_task(task.id, user="bob", by="lead")
        assert (to_bob.status, to_bob.user, to_bob.group) == (UserTaskStatus.ASSIGNED, "bob", "support")
        to_sales = await engine.reassign_user_task(task.id, group="sales")
        assert (to_sales.status, to_sales.user, to_sales.group) == (UserTaskStatus.UNASSIGNED, None, "sales")
        assert _rows(db, run_id) == [("UNASSIGNED", None, "sales", "Approve order 7")]
        await engine.claim_user_task(task.id, "cy")

        done = await engine.complete_user_task(task.id, {"approved": True, "limit": 5}, user="cy")
        assert (done.status, done.values, done.completed_by) == (UserTaskStatus.DONE, {"approved": True, "limit": 5},
                                                                 "cy")  # fmt: skip
        assert _rows(db, run_id) == [("DONE", "cy", "sales", "Approve order 7")]
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED
        assert run.output == {"approved": True, "comment": None, "limit": 5}

        shown = await engine.get_user_task(task.id)
        assert shown.values == {"approved": True, "limit": 5} and shown.completed_by == "cy"
        trail = [(h.kind, h.detail.get("by"), h.detail.get("user")) for h in shown.audit]
        assert trail == [
            ("USER_TASK_ASSIGNED", None, None),
            ("USER_TASK_CLAIMED", "ann", "ann"),
            ("USER_TASK_RELEASED", "ann", "ann"),
            ("USER_TASK_REASSIGNED", "lead", "bob"),
            ("USER_TASK_REASSIGNED", None, None),
            ("USER_TASK_CLAIMED", "cy", "cy"),
            ("USER_TASK_COMPLETED", "cy", None),
        ]
        assert all(h.detail["user_task"] == task.id for h in shown.audit)
        history = [h.seq for h in await engine.history(run_id) if h.detail.get("user_task") == task.id]
        assert [h.seq for h in shown.audit] == history


async def test_an_assigned_task_is_in_its_users_inbox_and_a_group_task_in_its_groups(db: Db) -> None:
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        ann = await engine.start("approve", {"assignee": "ann"}, run_id="r-ann")
        bob = await engine.start("approve", {"assignee": "bob", "team": "sales"}, run_id="r-bob")
        support = await engine.start("approve", {}, run_id="r-support")
        sales = await engine.start("approve", {"team": "sales"}, run_id="r-sales")
        done = await engine.start("approve", {"assignee": "ann"}, run_id="r-done")
        finished = await _only_task(engine, done)
        await engine.complete_user_task(finished.id, {"approved": False}, user="ann")

        async def runs(**where: Any) -> list[str]:
            return [t.run_id for t in await engine.list_user_tasks(**where)]

        assert await runs(user="ann", status="ASSIGNED") == [ann]
        assert await runs(user="ann") == [ann, done]
        assert await runs(user="ann", status=["assigned", UserTaskStatus.DONE]) == [ann, done]
        assert await runs(group="sales", status="UNASSIGNED") == [sales]
        assert await runs(group="support", status=("UNASSIGNED", "ASSIGNED")) == [ann, support]
        assert await runs(status="DONE") == [done]
        assert await runs() == [ann, bob, support, sales, done]
        assert await runs(run_id=bob) == [bob]
        first = await engine.list_user_tasks(limit=2)
        rest = await engine.list_user_tasks(limit=2, after=first[-1].id)
        last = await engine.list_user_tasks(limit=2, after=rest[-1].id)
        assert [t.run_id for t in first + rest + last] == [ann, bob, support, sales, done]


async def test_every_bad_input_is_refused_and_changes_nothing(db: Db) -> None:
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        run_id = await engine.start("approve", {"assignee": "ann"}, run_id="r1")
        task = await _only_task(engine, run_id)
        before = await engine.history(run_id)

        for call in (
            engine.get_user_task("ut-nope"),
            engine.claim_user_task("ut-nope", "ann"),
            engine.release_user_task("ut-nope"),
            engine.reassign_user_task("ut-nope", user="bob"),
            engine.complete_user_task("ut-nope", {"approved": True}),
            engine.cancel_user_task("ut-nope"),
        ):
            with pytest.raises(UnknownUserTaskError, match="ut-nope"):
                await call
        for bad, match in (
            (engine.claim_user_task(task.id, ""), "user must be a non-empty string"),
            (engine.claim_user_task(task.id, None), "user must be a non-empty string"),  # type: ignore[arg-type]
            (engine.claim_user_task("", "ann"), "user task id"),
            (engine.reassign_user_task(task.id), "needs user= or group="),
            (engine.reassign_user_task(task.id, user=" "), "user must be a non-empty string"),
            (engine.complete_user_task(task.id, [("approved", True)]), "mapping"),  # type: ignore[arg-type]
            (engine.cancel_user_task(task.id, reason=3), "reason must be a string"),  # type: ignore[arg-type]
            (engine.list_user_tasks(status="OPEN"), "unknown user task status 'OPEN'"),
            (engine.list_user_tasks(limit=0), "limit"),
            (engine.list_user_tasks(after="ut-gone"), "not a stored user task"),
        ):
            with pytest.raises(UsageError, match=match):
                await bad

        with pytest.raises(UserTaskValuesError) as refused:
            await engine.complete_user_task(task.id, {"comment": 7, "colour": "red"}, user="ann")
        assert sorted(field for field, _ in refused.value.problems) == ["approved", "colour", "comment"]
        assert refused.value.form == "approval" and refused.value.task_id == task.id
        with pytest.raises(UserTaskStateError, match="assigned to 'ann'") as other:
            await engine.claim_user_task(task.id, "bob")
        assert (other.value.status, other.value.action) == ("ASSIGNED", "claim")
        with pytest.raises(UserTaskStateError, match="assigned to 'ann'"):
            await engine.complete_user_task(task.id, {"approved": True}, user="bob")

        # Nothing of the refused inputs was applied: the task is as it was, open.
        assert await engine.history(run_id) == before
        assert (await engine.get_run(run_id)).status is RunStatus.RUNNING
        assert _rows(db, run_id) == [("ASSIGNED", "ann", "support", "Approve order 7")]
        still = await engine.get_user_task(task.id)
        assert still.status is UserTaskStatus.ASSIGNED and still.values is None

        await engine.complete_user_task(task.id, {"approved": True}, user="ann")
        for late in (
            engine.complete_user_task(task.id, {"approved": False}, user="ann"),
            engine.complete_user_task(task.id, {"approved": False}),
            engine.complete_user_task(task.id, {"colour": "red"}),  # a conflict whatever the values
            engine.claim_user_task(task.id, "ann"),
            engine.release_user_task(task.id),
            engine.reassign_user_task(task.id, user="bob"),
            engine.cancel_user_task(task.id),
        ):
            with pytest.raises(UserTaskStateError) as conflict:
                await late
            assert conflict.value.status == "DONE"
        assert (await engine.get_user_task(task.id)).values == {"approved": True}


async def test_releasing_a_task_without_a_group_is_a_conflict(db: Db) -> None:
    lone = spec(
        "lone",
        [("ask", user_task_node("approval", user="ann")), ("end", exit_(out("ask")))],
        forms=[APPROVAL],
    )
    async with Engine.open(db.url) as engine:
        await engine.deploy(lone)
        run_id = await engine.start("lone", run_id="r1")
        task = await _only_task(engine, run_id)
        with pytest.raises(UserTaskStateError, match="reassign it instead"):
            await engine.release_user_task(task.id, by="ann")
        assert _rows(db, run_id) == [("ASSIGNED", "ann", None, None)]


async def test_a_cancelled_task_fails_its_node_and_a_handler_may_handle_it(db: Db) -> None:
    handled = spec(
        "handled",
        [
            (
                "ask",
                user_task_node("approval", group="support", edges=[{"to": "end"}],
                               handlers=[handler("error", "fallback", "USER_TASK_CANCELLED")]),
            ),
            ("end", exit_(lit("handled"))),
        ],
        threads={"fallback": [("note", exit_(None))]},
        forms=[APPROVAL],
    )
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        await engine.deploy(handled)
        plain = await engine.start("approve", {"assignee": "ann"}, run_id="plain")
        task = await _only_task(engine, plain)
        cancelled = await engine.cancel_user_task(task.id, reason="order withdrawn", by="lead")
        assert cancelled.status is UserTaskStatus.CANCELLED
        run = await engine.wait(plain, timeout=10)
        assert run.status is RunStatus.FAILED and run.failure is not None
        assert (run.failure.name, run.failure.message) == ("USER_TASK_CANCELLED", "order withdrawn")
        assert _rows(db, plain) == [("CANCELLED", "ann", "support", "Approve order 7")]
        audit = (await engine.get_user_task(task.id)).audit
        assert [(h.kind, h.detail.get("reason"), h.detail.get("by")) for h in audit][-1] == (
            "USER_TASK_CANCELLED", "order withdrawn", "lead"
        )

        caught = await engine.start("handled", run_id="caught")
        await engine.cancel_user_task((await _only_task(engine, caught)).id)
        assert (await engine.wait(caught, timeout=10)).status is RunStatus.COMPLETED


async def test_cancelling_the_run_cancels_its_open_tasks(db: Db) -> None:
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        run_id = await engine.start("approve", {"assignee": "ann"}, run_id="r1")
        task = await _only_task(engine, run_id)
        await engine.cancel(run_id, reason="customer left")
        assert _rows(db, run_id) == [("CANCELLED", "ann", "support", "Approve order 7")]
        assert await engine.list_user_tasks(user="ann", status="ASSIGNED") == []
        with pytest.raises(UserTaskStateError) as conflict:
            await engine.complete_user_task(task.id, {"approved": True}, user="ann")
        assert (conflict.value.status, conflict.value.action) == ("CANCELLED", "complete")


async def test_user_tasks_in_a_child_thread_are_indexed_with_their_thread(db: Db) -> None:
    parent = spec(
        "parent",
        [
            ("spawn", {"kind": "spawn_thread", "thread": "review", "edges": [{"to": "join"}]}),
            ("join", {"kind": "wait_for_threads", "threads": ["spawn"], "strategy": "ALL"}),
            ("end", exit_(1)),
        ],
        threads={"review": thread([("ask", user_task_node("approval", group="legal")), ("done", exit_(None))])},
        forms=[APPROVAL],
    )
    async with Engine.open(db.url) as engine:
        await engine.deploy(parent)
        run_id = await engine.start("parent", run_id="p1")
        task = await _only_task(engine, run_id)
        assert (task.thread, task.group, task.node) == (1, "legal", "ask")
        await engine.claim_user_task(task.id, "dee")
        await engine.complete_user_task(task.id, {"approved": True}, user="dee")
        assert (await engine.wait(run_id, timeout=10)).status is RunStatus.COMPLETED


async def test_deadline_timers_change_the_index_as_they_fire(db: Db) -> None:
    clock = ManualClock()
    timed = _approval(
        "timed",
        [ut_timer(60, "reassign", group="escalations"), ut_timer(120, "release"), ut_timer(300, "cancel")],
    )
    async with manual_engine(db.url, clock) as engine:
        await engine.deploy(timed)
        run_id = await engine.start("timed", {"assignee": "ann"}, run_id="r1")
        task = await _only_task(engine, run_id)
        clock.advance(61)
        await _until_row(db, run_id, ("UNASSIGNED", None, "escalations", "Approve order 7"))
        await engine.claim_user_task(task.id, "eve")
        clock.advance(60)
        await _until_row(db, run_id, ("UNASSIGNED", None, "escalations", "Approve order 7"))
        clock.advance(200)
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.FAILED and run.failure is not None
        assert run.failure.name == "USER_TASK_CANCELLED"
        assert _rows(db, run_id) == [("CANCELLED", None, "escalations", "Approve order 7")]
        audit = (await engine.get_user_task(task.id)).audit
        assert [(h.kind, h.detail.get("timer")) for h in audit] == [
            ("USER_TASK_ASSIGNED", None),
            ("USER_TASK_REASSIGNED", True),
            ("USER_TASK_CLAIMED", None),
            ("USER_TASK_RELEASED", True),
            ("USER_TASK_CANCELLED", True),
        ]
        assert db.rows("SELECT count(*) FROM timers") == [(0,)]


async def _until_row(db: Db, run_id: str, row: tuple[Any, ...]) -> None:
    with anyio.fail_after(10):
        while _rows(db, run_id) != [row]:
            await anyio.sleep(0.02)


async def test_retention_deletes_the_tasks_with_their_runs(db: Db) -> None:
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        run_id = await engine.start("approve", {"assignee": "ann"}, run_id="r1")
        kept = await engine.start("approve", {"assignee": "bob"}, run_id="r2")
        task = await _only_task(engine, run_id)
        await engine.complete_user_task(task.id, {"approved": True}, user="ann")
        await engine.wait(run_id, timeout=10)
        assert await engine.purge_runs(finished_before=2**40) == 1
        with pytest.raises(UnknownUserTaskError):
            await engine.get_user_task(task.id)
        assert [t.run_id for t in await engine.list_user_tasks()] == [kept]
        assert db.rows(f"SELECT count(*) FROM user_tasks WHERE run_id = '{run_id}'") == [(0,)]


async def test_a_reminder_runs_its_task_while_the_task_stays_open(db: Db) -> None:
    sent: list[tuple[str, str]] = []

    @wfc_task("send-reminder")
    def send_reminder(who: str, task_form: str, ctx: TaskContext) -> str:
        sent.append((who, task_form))
        return "sent"

    clock = ManualClock()
    reminded = _approval("reminded", [ut_timer(86400, "remind", var("assignee"), "approval", task="send-reminder")])
    async with manual_engine(db.url, clock, tasks=[send_reminder]) as engine:
        await engine.deploy(reminded)
        run_id = await engine.start("reminded", {"assignee": "ann"}, run_id="r1")
        task = await _only_task(engine, run_id)
        clock.advance(86401)
        with anyio.fail_after(10):
            while "USER_TASK_REMINDER_COMPLETED" not in [h.kind for h in (await engine.get_user_task(task.id)).audit]:
                await anyio.sleep(0.02)
        assert sent == [("ann", "approval")]
        shown = await engine.get_user_task(task.id)
        assert shown.status is UserTaskStatus.ASSIGNED and shown.user == "ann"
        assert [h.kind for h in shown.audit][:2] == ["USER_TASK_ASSIGNED", "USER_TASK_REMINDED"]
        await engine.complete_user_task(task.id, {"approved": True}, user="ann")
        assert (await engine.wait(run_id, timeout=10)).status is RunStatus.COMPLETED


async def test_a_halted_runs_task_can_be_claimed_and_completed_and_the_node_finishes_on_resume(db: Db) -> None:
    async with Engine.open(db.url) as engine:
        await engine.deploy(APPROVE)
        run_id = await engine.start("approve", {}, run_id="r1")
        task = await _only_task(engine, run_id)
        await engine.halt(run_id, reason="audit")
        await engine.claim_user_task(task.id, "ann")
        done = await engine.complete_user_task(task.id, {"approved": True}, user="ann")
        assert done.status is UserTaskStatus.DONE
        assert _rows(db, run_id) == [("DONE", "ann", "support", "Approve order 7")]
        assert (await engine.get_run(run_id)).status is RunStatus.HALTED
        await engine.resume(run_id)
        run = await engine.wait(run_id, timeout=10)
        assert run.status is RunStatus.COMPLETED and run.output == {"approved": True, "comment": None, "limit": None}
