"""Names the engine stores and shows on a terminal line (a new run's id, a
user or group, a subscriber) are 1 to 200 characters without control
characters; every bad one is refused with what is allowed, and nothing is
stored. Subscribers ask only for kinds the engine writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from rtdb import Db
from rtspec import exit_, field, form, out, spec, user_task, var, variable

from wfc.runtime import Engine, UsageError, UserTaskStatus
from wfc.runtime._arguments import MAX_NAME_LENGTH

pytestmark = pytest.mark.anyio

QUICK = spec("quick", [("end", exit_(1))])
REVIEW = spec(
    "review",
    [("ask", user_task("ok", user=var("who"), group="support")), ("end", exit_(out("ask")))],
    variables={"who": variable("str")},
    forms=[form("ok", field("approved", "bool"))],
)
RULE = f"give 1 to {MAX_NAME_LENGTH} characters"
#: Names refused, and what the error says about each.
BAD_NAMES = [
    ("", "must be a non-empty string"),
    ("   ", "must be a non-empty string"),
    ("a\x1b[2Jb\nc", "character 2 is the control character U+001B"),
    ("row\nrow", "character 4 is the control character U+000A"),
    ("del\x7f", "U+007F"),
    ("c1\x9b", "U+009B"),
    ("evil\u202etxt.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("line\u2028break", "U+2028 LINE SEPARATOR"),
    ("x" * (MAX_NAME_LENGTH + 1), f"it is {MAX_NAME_LENGTH + 1} characters long, more than {MAX_NAME_LENGTH}"),
    ("x" * 100_000, "it is 100,000 characters long"),
]


@pytest.mark.parametrize(("run_id", "problem"), BAD_NAMES)
async def test_a_bad_new_run_id_is_refused_and_nothing_is_started(db: Db, run_id: str, problem: str) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(QUICK)
        for start in (engine.start, engine.start_run):
            with pytest.raises(UsageError) as refused:
                await start("quick", {}, run_id)
            message = str(refused.value)
            assert message.startswith("run_id ") and problem in message and RULE in message
            assert "\x1b" not in message and "\n" not in message and len(message) < 500
        assert await engine.list_runs() == []


async def test_good_run_ids_up_to_the_longest_are_taken(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(QUICK)
        for run_id in ("x" * MAX_NAME_LENGTH, "order 7 / ünïcode ✓", "a-b_c.d:e@f"):
            assert await engine.start("quick", {}, run_id) == run_id
            assert (await engine.wait(run_id, timeout=10)).output == 1


#: A user or group may be long (a workflow's expression may have assigned one): only what rewrites a line is refused.
BAD_PERSONS = [(name, problem) for name, problem in BAD_NAMES[2:] if "characters long" not in problem]


@pytest.mark.parametrize(("name", "problem"), BAD_PERSONS)
async def test_bad_user_and_group_names_are_refused_and_the_task_is_unchanged(
    db: Db, name: str, problem: str
) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(REVIEW)
        await engine.start("review", {}, "r-1")
        [task] = await engine.list_user_tasks(run_id="r-1")
        calls: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("user", lambda: engine.claim_user_task(task.id, name)),
            ("by", lambda: engine.release_user_task(task.id, by=name)),
            ("group", lambda: engine.reassign_user_task(task.id, group=name)),
            ("user", lambda: engine.complete_user_task(task.id, {"approved": True}, user=name)),
        ]
        for what, call in calls:
            with pytest.raises(UsageError) as refused:
                await call()
            assert str(refused.value).startswith(f"{what} ") and problem in str(refused.value)
            assert "give a name without control characters" in str(refused.value)
        after = await engine.get_user_task(task.id)
        assert after.status is UserTaskStatus.UNASSIGNED and after.user is None and after.group == "support"
        assert [entry.kind for entry in after.audit] == ["USER_TASK_ASSIGNED"]


async def test_names_a_workflow_may_assign_are_served(db: Db) -> None:
    # A Persian name with a zero-width non-joiner, a family emoji (zero-width joiners), a long name:
    # the interpreter stores any user an expression gives; claiming and listing by it must work.
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        await engine.deploy(REVIEW)
        for number, name in enumerate(("Ali\u200cReza", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "x" * 300)):
            await engine.start("review", {}, f"r-{number}")
            [task] = await engine.list_user_tasks(run_id=f"r-{number}")
            await engine.claim_user_task(task.id, name)
            [mine] = await engine.list_user_tasks(user=name)
            assert (mine.id, mine.user) == (task.id, name)


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES)
async def test_a_bad_subscriber_name_is_refused(db: Db, name: str, problem: str) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        with pytest.raises(UsageError) as refused:
            engine.subscribe(name)
        assert str(refused.value).startswith("the subscriber's name ") and problem in str(refused.value)
    assert db.rows("SELECT count(*) FROM subscribers") == [(0,)]


async def test_kinds_the_engine_never_writes_are_refused_with_the_list(db: Db) -> None:
    async with Engine.open(db.url, poll_interval=0.05) as engine:
        bad = ["RUN_FAILED", "NO_SUCH_KIND", "run_failed"]
        with pytest.raises(UsageError) as subscribing:
            engine.subscribe("alerts", bad)
        with pytest.raises(UsageError) as reading:
            await engine.read_feed(kinds=bad)
        for refused in (subscribing, reading):
            message = str(refused.value)
            assert message.startswith("unknown journal entry kinds 'NO_SUCH_KIND', 'run_failed': nothing would")
            assert "RUN_FAILED, RUN_HALTED" in message and "USER_TASK_ASSIGNED" in message
        async with engine.subscribe("alerts", ["RUN_FAILED", "COMPENSATION_FAILED"]) as feed:
            assert feed.name == "alerts"
        assert (await engine.read_feed(kinds=["RUN_COMPLETED"]))[0] == []
