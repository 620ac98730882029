"""``wfc migrate apply PLAN`` end to end: runs of ``ship`` 1.0 parked by a
real engine, a plan made with ``wfc migrate plan --json``, applied through
the CLI, then the stored runs and journals read back and the runs finished
by a serving engine. On SQLite and PostgreSQL: what moves and what does not
(with why), that applying again changes nothing, ``--migrate-later``, the
conflict exit code 3 for a run that took a step since the plan, and every
bad input exiting 1 with a message and no traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from rtdb import Db
from run_helpers import Invoke, make_invoke, no_traceback, wfc_process
from test_cli_startup import heavy, modules_after

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, HistoryEntry, RunInfo, RunStatus
from wfc.runtime import task as task_fn


def _v1(wf: WorkflowThread) -> Any:
    order = wf.declare_str("order-id").required()
    wf.wait_for_event("approved", correlation=order, timeout=3600)
    wf.wait_for_event("packed", correlation=order, timeout=3600)
    return wf.execute("finish", order)


def _v2(wf: WorkflowThread) -> Any:
    """No wait for ``packed`` (node ``wait-packed`` removed), a new task
    ``notify`` and a new variable ``channel`` with a default."""
    order = wf.declare_str("order-id").required()
    wf.declare_str("channel").default("web")
    wf.wait_for_event("approved", correlation=order, timeout=3600)
    wf.execute("notify", order)
    return wf.execute("finish", order)


def _other_v2(wf: WorkflowThread) -> Any:
    """Another 1.1: what a database the plan was not made on may hold."""
    wf.declare_int("extra").default(1)
    return _v2(wf)


V1 = Workflow("ship", _v1).compile()
V2 = Workflow("ship", _v2).compile(previous=V1)
OTHER_V2 = Workflow("ship", _other_v2).compile(previous=V1)


@task_fn("notify")
def notify(order_id: str) -> str:
    return f"notified {order_id}"


@task_fn("finish")
def finish(order_id: str) -> str:
    return f"finished {order_id}"


#: Parked runs: at ``wait-approved`` (safe now) or at ``wait-packed`` (removed: safe once it reaches ``finish``).
PARKED = {"ord-a": "approved", "ord-b": "packed"}


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


async def _park(url: str, runs: dict[str, str], deploy: tuple[Any, ...] = (V2,)) -> None:
    """Runs of 1.0 parked where ``runs`` says; then the ``deploy`` specs."""
    async with Engine.open(url, serve=False, check_tasks=False) as engine:
        await engine.deploy(V1)
        for run_id, where in runs.items():
            await engine.start("ship", {"order-id": run_id}, run_id=run_id)
            if where == "packed":
                await engine.send_event("approved", {"by": "ann"}, correlation=run_id)
        for run_id, where in runs.items():
            assert (await engine.get_run(run_id)).threads[0].node == f"wait-{where}"
        for spec in deploy:
            await engine.deploy(spec)


def park(url: str, runs: dict[str, str] = PARKED, deploy: tuple[Any, ...] = (V2,)) -> None:
    anyio.run(_park, url, runs, deploy)


def stored(url: str, run_ids: list[str]) -> dict[str, tuple[RunInfo, list[HistoryEntry]]]:
    """Each run as stored, with its journal."""

    async def read() -> dict[str, tuple[RunInfo, list[HistoryEntry]]]:
        async with Engine.open(url, serve=False, check_tasks=False) as engine:
            return {run_id: (await engine.get_run(run_id), await engine.history(run_id)) for run_id in run_ids}

    return anyio.run(read)


def migrated(journal: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [entry.detail for entry in journal if entry.kind == "MIGRATED"]


def write_plan(wfc: Invoke, url: str, path: Path, *extra: str) -> dict[str, Any]:
    """``wfc migrate plan ship --from 1.0 --to 1.1 --json`` into ``path``."""
    result = wfc("migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", *extra, "--db", url, "--json")
    assert result.exit_code == 0, result.output
    path.write_text(result.stdout, encoding="utf-8")
    return dict(json.loads(result.stdout))


def finish_runs(url: str, events: dict[str, str]) -> dict[str, tuple[RunInfo, list[HistoryEntry]]]:
    """Send each run its event in a serving engine with the tasks; each run
    as it ended, with its journal."""

    async def go() -> dict[str, tuple[RunInfo, list[HistoryEntry]]]:
        async with Engine.open(url, tasks=[notify, finish], poll_interval=0.02) as engine:
            ended = {}
            for run_id, event in events.items():
                await engine.send_event(event, {"by": "bo"}, correlation=run_id)
                ended[run_id] = (await engine.wait(run_id, timeout=30), await engine.history(run_id))
            return ended

    return anyio.run(go)


def tasks_run(journal: list[HistoryEntry]) -> list[str]:
    return [entry.node for entry in journal if entry.kind == "TASK_COMPLETED" and entry.node is not None]


# ---------------------------------------------------------------- applying


def test_apply_moves_the_safe_runs_and_they_finish_on_the_new_version(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    park(db.url)
    plan = write_plan(wfc, db.url, tmp_path / "plan.json")
    assert plan["summary"] == {"safe_now": 1, "safe_later": 1, "must_drain": 0}

    result = wfc("migrate", "apply", "plan.json", "--db", db.url)
    assert result.exit_code == 0, result.output
    assert no_traceback(result)
    text = result.stdout
    assert "migration ship 1.0 → 1.1" in text and "2 runs in the plan" in text
    rows = {" ".join(line.split()[:-1]): line.split()[-1] for line in text.splitlines()
            if line.split() and line.split()[-1].isdigit()}  # fmt: skip
    assert rows["migrated"] == "1" and rows["already migrated"] == "0" and rows["not moved now"] == "1"
    assert rows["gone"] == "0"
    not_moved = [line for line in text.splitlines() if line.strip().startswith("ord-")]
    assert len(not_moved) == 1 and not_moved[0].split()[0] == "ord-b" and "wait-packed" in not_moved[0]

    runs = stored(db.url, ["ord-a", "ord-b"])
    info, journal = runs["ord-a"]
    assert str(info.version) == "1.1" and info.status is RunStatus.RUNNING
    assert info.threads[0].node == "wait-approved" and info.variables["channel"] == "web"
    (entry,) = migrated(journal)
    assert entry["from"] == "1.0" and entry["to"] == "1.1" and entry["plan"] == plan["id"]
    assert entry["automatic"] is False
    assert entry["threads"] == []  # no thread changed node id: wait-approved is in 1.1 too
    assert entry["variables"] == {"channel": "web"}
    info_b, journal_b = runs["ord-b"]
    assert str(info_b.version) == "1.0" and migrated(journal_b) == [] and info_b.threads[0].node == "wait-packed"

    ended = finish_runs(db.url, {"ord-a": "approved", "ord-b": "packed"})
    done_a, journal_a = ended["ord-a"]
    assert done_a.status is RunStatus.COMPLETED and str(done_a.version) == "1.1"
    assert tasks_run(journal_a) == ["notify", "finish"]  # 1.1's steps: notify is new
    done_b, journal_b = ended["ord-b"]
    assert done_b.status is RunStatus.COMPLETED and str(done_b.version) == "1.0"
    assert tasks_run(journal_b) == ["finish"]


def test_applying_again_changes_nothing(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    park(db.url, {"ord-a": "approved", "ord-c": "approved"})
    plan = write_plan(wfc, db.url, tmp_path / "plan.json")
    first = wfc("migrate", "apply", "plan.json", "--db", db.url, "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["format"] == "wfc/migration-report/1" and report["plan"] == plan["id"]
    assert report["workflow"] == "ship" and report["summary"]["migrated"] == 2
    assert {run["run_id"]: run["outcome"] for run in report["runs"]} == {"ord-a": "migrated", "ord-c": "migrated"}
    before = stored(db.url, ["ord-a", "ord-c"])

    again = wfc("migrate", "apply", "plan.json", "--db", db.url, "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["summary"] == {"migrated": 0, "already_migrated": 2, "pending": 0, "not_now": 0, "gone": 0}
    assert stored(db.url, ["ord-a", "ord-c"]) == before  # rows, states and journals alike
    text = wfc("migrate", "apply", "plan.json", "--db", db.url)
    assert text.exit_code == 0 and "runs not moved" not in text.stdout
    for _, journal in stored(db.url, ["ord-a", "ord-c"]).values():
        assert len(migrated(journal)) == 1


def test_a_run_that_took_a_step_since_the_plan_is_a_conflict(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    park(db.url, {"ord-a": "approved", "ord-c": "approved"})
    plan = write_plan(wfc, db.url, tmp_path / "plan.json")
    assert plan["summary"]["safe_now"] == 2

    async def step() -> None:  # ord-c moves on to wait-packed, removed in 1.1
        async with Engine.open(db.url, serve=False, check_tasks=False) as engine:
            await engine.send_event("approved", {"by": "ann"}, correlation="ord-c")

    anyio.run(step)
    result = wfc("migrate", "apply", "plan.json", "--db", db.url, "--json")
    assert result.exit_code == 3, result.output
    assert no_traceback(result)
    report = json.loads(result.stdout)
    outcomes = {run["run_id"]: run for run in report["runs"]}
    assert outcomes["ord-a"]["outcome"] == "migrated" and outcomes["ord-c"]["outcome"] == "not_now"
    assert "wait-packed" in outcomes["ord-c"]["detail"]
    message = " ".join(result.stderr.split())
    assert "1 run(s) that the plan called safe now could not move now" in message
    assert "make a new plan with `wfc migrate plan ship --from 1.0 --to 1.1 --json" in message
    runs = stored(db.url, ["ord-a", "ord-c"])
    assert str(runs["ord-a"][0].version) == "1.1" and str(runs["ord-c"][0].version) == "1.0"
    assert migrated(runs["ord-c"][1]) == []
    text = wfc("migrate", "apply", "plan.json", "--db", db.url)
    assert text.exit_code == 3 and "ord-c" in text.stdout and "not moved now" in text.stdout


def test_migrate_later_moves_a_run_once_it_reaches_a_node_that_maps(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    park(db.url)
    plan = write_plan(wfc, db.url, tmp_path / "plan.json", "--migrate-later")
    assert plan["migrate_later"] is True
    plain = json.loads(wfc("migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", "--db", db.url,
                           "--json").stdout)  # fmt: skip
    assert plain["migrate_later"] is False

    result = wfc("migrate", "apply", "plan.json", "--db", db.url, "--json")
    assert result.exit_code == 0, result.output
    outcomes = {run["run_id"]: run["outcome"] for run in json.loads(result.stdout)["runs"]}
    assert outcomes == {"ord-a": "migrated", "ord-b": "pending"}
    info_b, journal_b = stored(db.url, ["ord-b"])["ord-b"]
    assert str(info_b.version) == "1.0" and migrated(journal_b) == []
    assert [entry.kind for entry in journal_b].count("MIGRATION_PENDING") == 1

    ended = finish_runs(db.url, {"ord-b": "packed"})  # ord-b reaches finish, which maps: it moves by itself
    done_b, journal_b = ended["ord-b"]
    assert done_b.status is RunStatus.COMPLETED and str(done_b.version) == "1.1"
    (entry,) = migrated(journal_b)
    assert entry["automatic"] is True and entry["from"] == "1.0" and entry["to"] == "1.1"


# ---------------------------------------------------------------- bad inputs


def test_bad_plans_and_databases_exit_1_with_a_message(wfc: Invoke, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    park(url)
    plan = write_plan(wfc, url, tmp_path / "plan.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    (tmp_path / "format.json").write_text(json.dumps({**plan, "format": "wfc/migration-plan/9"}), encoding="utf-8")
    (tmp_path / "hash.json").write_text(json.dumps({**plan, "to": {"version": "1.1", "hash": "sha256:" + "0" * 64}}),
                                        encoding="utf-8")  # fmt: skip
    (tmp_path / "version.json").write_text(json.dumps({**plan, "to": {**plan["to"], "version": "1.7"}}),
                                           encoding="utf-8")  # fmt: skip
    other = f"sqlite:///{tmp_path / 'other.db'}"  # the same workflow, another 1.1: the plan is not for it
    park(other, {"ord-z": "approved"}, deploy=(OTHER_V2,))
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    anyio.run(_deploy_nothing, empty)
    before = stored(url, ["ord-a", "ord-b"])
    cases = [
        (["none.json"], url, "plan file none.json: no such file or directory"),
        (["broken.json"], url, "broken.json is not valid JSON"),
        (["list.json"], url, "list.json is not a migration plan"),
        (["format.json"], url, "wfc/migration-plan/9"),
        (["hash.json"], url, "hash"),
        (["version.json"], url, "1.7"),
        (["plan.json"], other, "hash"),
        (["plan.json"], empty, "ship"),
        (["plan.json"], f"sqlite:///{tmp_path / 'typo.db'}", "no database at typo.db"),
    ]
    for args, where, message in cases:
        result = wfc("migrate", "apply", *args, "--db", where)
        shown = " ".join(result.stderr.split())
        assert result.exit_code == 1, (args, where, result.output)
        assert message in shown, (args, where, shown)
        assert no_traceback(result), result.output
    for args, where, _ in cases[3:8]:  # the plan was read: the message names it and says what to do
        shown = " ".join(wfc("migrate", "apply", *args, "--db", where).stderr.split())
        assert shown.startswith(f"error: {args[0]}: "), shown
        assert "wfc migrate plan" in shown or "make the plan again" in shown.lower(), shown
    assert stored(url, ["ord-a", "ord-b"]) == before  # nothing moved
    assert not (tmp_path / "typo.db").exists()
    usage = wfc("migrate", "apply", "--db", url)
    assert usage.exit_code == 2 and "PLAN" in usage.stderr


async def _deploy_nothing(url: str) -> None:
    async with Engine.open(url, serve=False, check_tasks=False):
        pass


def test_apply_from_the_console_script(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    park(url)
    done = wfc_process(tmp_path, "migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", "--json", "--db", url)
    assert done.returncode == 0, done.stderr
    (tmp_path / "plan.json").write_text(done.stdout, encoding="utf-8")
    applied = wfc_process(tmp_path, "migrate", "apply", "plan.json", "--db", url)
    assert applied.returncode == 0 and no_traceback(applied), applied.stderr
    assert "migrated" in applied.stdout and applied.stderr == ""  # no progress bar outside a terminal
    assert str(stored(url, ["ord-a"])["ord-a"][0].version) == "1.1"


def test_apply_help_imports_nothing_heavy() -> None:
    modules = modules_after("migrate", "apply", "--help")
    assert "wfc.cli.migrate_cmd" in modules and heavy(modules) == []
