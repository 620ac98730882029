"""``wfc tasks list|show|claim|release|reassign|complete|cancel`` on a real
database (SQLite, and PostgreSQL when configured) holding runs waiting at a
user task: output, exit codes, and what the database holds afterwards."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rtdb import Db
from typer.testing import Result

sys.path.insert(0, str(Path(__file__).parent))

from run_helpers import Invoke
from task_helpers import audit_kinds, review_spec, start_reviews, stored, stored_run

#: The keys of a task document (the API's too).
KEYS = {
    "id", "run_id", "workflow", "version", "thread", "node", "form", "status", "user", "group", "notes",
    "created_at", "updated_at", "values", "completed_by",
}  # fmt: skip


@pytest.fixture
def tasks(db: Db) -> dict[str, str]:
    """Two runs at the review: ``r-ann`` ASSIGNED to ann, ``r-grp`` UNASSIGNED
    (group support); the id of each one's task."""
    return start_reviews(db.url, {"r-ann": "ann", "r-grp": None})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(result: Result, code: int, *needles: str) -> str:
    """The error of a refused command: its exit code, no traceback, each needle."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


def test_list_is_an_inbox_filtered_by_user_group_status_and_run(
    invoke: Invoke, db: Db, tasks: dict[str, str]
) -> None:
    lines = ok(invoke("tasks", "list", "--db", db.url)).splitlines()
    header = next(line for line in lines if line.lstrip().startswith("id"))
    assert header.split() == ["id", "status", "form", "user", "group", "run", "age"]
    ann = next(line for line in lines if line.lstrip().startswith(tasks["r-ann"]))
    assert ann.split()[1:6] == ["ASSIGNED", "review", "ann", "support", "r-ann"]
    assert ann.split()[6].endswith("s")  # seconds old
    group = next(line for line in lines if line.lstrip().startswith(tasks["r-grp"]))
    assert group.split()[1:5] == ["UNASSIGNED", "review", "support", "r-grp"]

    def ids(*args: str) -> list[str]:
        return [task["id"] for task in json.loads(ok(invoke("tasks", "list", "--json", *args, "--db", db.url)))]

    assert ids() == [tasks["r-ann"], tasks["r-grp"]]  # oldest first
    assert ids("--user", "ann") == [tasks["r-ann"]]
    assert ids("--status", "unassigned") == [tasks["r-grp"]]  # any case
    both = [tasks["r-ann"], tasks["r-grp"]]
    assert ids("--status", "UNASSIGNED", "--status", "ASSIGNED", "--group", "support") == both
    assert ids("--open", "--run", "r-grp") == [tasks["r-grp"]]
    assert ids("--status", "DONE") == []
    assert ids("--limit", "1") == [tasks["r-ann"]]
    assert ids("--limit", "1", "--after", tasks["r-ann"]) == [tasks["r-grp"]]
    assert ids("--after", tasks["r-grp"]) == []
    assert "no user tasks match" in ok(invoke("tasks", "list", "--user", "zoe", "--db", db.url))


def test_the_json_document_is_the_task(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    [document] = json.loads(ok(invoke("tasks", "list", "--json", "--run", "r-ann", "--db", db.url)))
    assert set(document) == KEYS
    assert document["status"] == "ASSIGNED" and document["user"] == "ann" and document["group"] == "support"
    assert document["run_id"] == "r-ann" and document["workflow"] == "review" and document["version"] == "1.0"
    assert document["thread"] == 0 and document["node"] == "review" and document["notes"] == "Check order o-1"
    assert document["values"] is None and document["completed_by"] is None
    assert document["form"] == {
        "name": "review",
        "fields": [
            {"name": "approved", "type": "bool", "required": True, "display_name": "Approve?",
             "description": "Whether the order may ship"},
            {"name": "amount", "type": "float", "required": True, "display_name": "Amount (EUR)", "description": ""},
            {"name": "note", "type": "str", "required": False, "display_name": None, "description": ""},
        ],
    }  # fmt: skip
    shown = json.loads(ok(invoke("tasks", "show", tasks["r-ann"], "--json", "--db", db.url)))
    assert {key: shown[key] for key in KEYS} == document
    [assigned] = shown["audit"]
    assert assigned["kind"] == "USER_TASK_ASSIGNED" and assigned["thread_name"] == "main"
    assert assigned["detail"]["user_task"] == tasks["r-ann"] and assigned["detail"]["user"] == "ann"


def test_show_prints_the_form_notes_and_audit_trail(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    text = ok(invoke("tasks", "show", tasks["r-grp"], "--db", db.url))
    assert f"user task {tasks['r-grp']} (form review)" in text
    assert "UNASSIGNED  for group support" in text
    assert "r-grp (review 1.0), thread main, node review" in text
    assert "Check order o-1" in text
    approved = next(line for line in text.splitlines() if line.lstrip().startswith("approved"))
    assert approved.split()[:4] == ["approved", "bool", "yes", "Approve?"] and "Whether the order may ship" in approved
    note = next(line for line in text.splitlines() if line.lstrip().startswith("note "))
    assert note.split() == ["note", "str", "no"]
    assert "USER_TASK_ASSIGNED" in text and "form review for group support" in text


def test_claim_then_complete_by_the_claimer_ends_the_run_with_the_values(
    invoke: Invoke, db: Db, tasks: dict[str, str]
) -> None:
    task_id = tasks["r-grp"]
    claimed = ok(invoke("tasks", "claim", task_id, "--user", "bob", "--db", db.url))
    assert f"claimed user task {task_id} (form review, run r-grp): now ASSIGNED, for bob (group support)" in claimed
    assert stored(db.url, task_id).user == "bob"
    # Someone else may not complete bob's task: a conflict, and nothing changes.
    refused(
        invoke("tasks", "complete", task_id, "--user", "ann", "-f", "approved=yes", "-f", "amount=3", "--db", db.url),
        3, f"cannot complete user task {task_id!r}", "bob", f"wfc tasks show {task_id}",
    )  # fmt: skip
    assert stored(db.url, task_id).status.value == "ASSIGNED"
    done = ok(invoke("tasks", "complete", task_id, "--user", "bob", "--field", "approved=yes",
                     "--field", "amount=12.5", "--db", db.url))  # fmt: skip
    assert "now DONE, completed by bob" in done
    task = stored(db.url, task_id)
    assert task.status.value == "DONE" and task.completed_by == "bob"
    assert task.values == {"approved": True, "amount": 12.5}  # as given; the node's output has every field
    assert audit_kinds(task) == [
        ("USER_TASK_ASSIGNED", None), ("USER_TASK_CLAIMED", "bob"), ("USER_TASK_COMPLETED", "bob")
    ]
    run = stored_run(db.url, "r-grp")
    assert run.status.value == "COMPLETED" and run.output == {"approved": True, "amount": 12.5, "note": None}
    # Completing it again is a conflict (exit 3) before any value is looked at.
    again = refused(invoke("tasks", "complete", task_id, "--db", db.url), 3, "it is DONE")
    assert "field" not in again
    shown = ok(invoke("tasks", "show", task_id, "--db", db.url))
    assert "DONE  completed by bob" in shown and "12.5" in shown and "USER_TASK_COMPLETED" in shown


def test_values_json_and_an_operator_completion(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    task_id = tasks["r-ann"]
    document = json.loads(ok(invoke("tasks", "complete", task_id, "--values", '{"approved": false, "amount": 1}',
                                    "--field", "note=too small", "--json", "--db", db.url)))  # fmt: skip
    assert document["status"] == "DONE" and document["completed_by"] is None  # an operator
    assert document["values"] == {"approved": False, "amount": 1, "note": "too small"}
    assert stored_run(db.url, "r-ann").output == {"approved": False, "amount": 1, "note": "too small"}


def test_release_reassign_and_cancel(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    task_id = tasks["r-ann"]
    assert "now UNASSIGNED, for group support" in ok(invoke("tasks", "release", task_id, "--by", "ann", "--db", db.url))
    assert (stored(db.url, task_id).status.value, stored(db.url, task_id).user) == ("UNASSIGNED", None)
    refused(invoke("tasks", "release", task_id, "--db", db.url), 3, "UNASSIGNED")  # nothing to release
    moved = ok(invoke("tasks", "reassign", task_id, "--group", "billing", "--by", "lead", "--db", db.url))
    assert "now UNASSIGNED, for group billing" in moved
    moved = ok(invoke("tasks", "reassign", task_id, "--user", "carol", "--db", db.url))
    assert "now ASSIGNED, for carol (group billing)" in moved
    refused(invoke("tasks", "claim", task_id, "--user", "dave", "--db", db.url), 3, "carol")
    assert stored(db.url, task_id).user == "carol"
    cancelled = ok(invoke("tasks", "cancel", task_id, "--reason", "order withdrawn", "--by", "carol", "--db", db.url))
    assert "now CANCELLED" in cancelled
    task = stored(db.url, task_id)
    assert task.status.value == "CANCELLED"
    assert audit_kinds(task) == [
        ("USER_TASK_ASSIGNED", None),
        ("USER_TASK_RELEASED", "ann"),
        ("USER_TASK_REASSIGNED", "lead"),
        ("USER_TASK_REASSIGNED", None),
        ("USER_TASK_CANCELLED", "carol"),
    ]
    run = stored_run(db.url, "r-ann")
    assert run.status.value == "FAILED" and run.failure is not None
    assert run.failure.name == "USER_TASK_CANCELLED" and "order withdrawn" in run.failure.message
    for verb in (["claim", "--user", "x"], ["release"], ["reassign", "--user", "x"], ["cancel"]):
        refused(invoke("tasks", verb[0], task_id, *verb[1:], "--db", db.url), 3, "CANCELLED")
    shown = ok(invoke("tasks", "show", task_id, "--db", db.url))
    assert "cancelled: order withdrawn" in shown and "released to group support" in shown


def test_a_task_without_group_cannot_be_released(invoke: Invoke, db: Db) -> None:
    ids = start_reviews(db.url, {"solo": "ann"}, review_spec(group=None))
    refused(invoke("tasks", "release", ids["solo"], "--db", db.url), 3, "reassign")
    assert stored(db.url, ids["solo"]).status.value == "ASSIGNED"


def test_bad_values_name_the_field_and_leave_the_task_open(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    task_id = tasks["r-ann"]
    bad = refused(
        invoke("tasks", "complete", task_id, "-u", "ann", "-f", "approved=maybe", "-f", "colour=red", "--db", db.url),
        1, "--field approved='maybe': field 'approved' is bool, and 'maybe' is not a boolean",
        "form 'review' has no field 'colour'; its fields are approved (bool, required), amount (float, required)",
        "field 'amount': required (float), but no value was given (give it with --field amount=12.5)",
    )  # fmt: skip
    assert bad.startswith("error: cannot complete a task of form 'review':")
    refused(invoke("tasks", "complete", task_id, "-f", "approved=1", "-f", "amount=12,5", "--db", db.url),
            1, "field 'amount' is float, and '12,5' is not a number")  # fmt: skip
    refused(invoke("tasks", "complete", task_id, "--values", "[1]", "--db", db.url), 1, "expected a JSON object")
    refused(invoke("tasks", "complete", task_id, "--values", '{"approved": "no", "amount": 1}', "--db", db.url),
            1, "field 'approved': must be bool, got str 'no'")  # fmt: skip
    task = stored(db.url, task_id)
    assert task.status.value == "ASSIGNED" and task.values is None
    assert audit_kinds(task) == [("USER_TASK_ASSIGNED", None)]


def test_unknown_tasks_and_bad_options(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    for args in (["show", "nope"], ["claim", "nope", "--user", "a"], ["complete", "nope"], ["cancel", "nope"],
                 ["release", "nope"], ["reassign", "nope", "--group", "g"]):  # fmt: skip
        refused(invoke("tasks", *args, "--db", db.url), 1, "no user task with id 'nope' in", "`wfc tasks list")
    refused(invoke("tasks", "list", "--status", "sleepy", "--db", db.url), 2, "'sleepy' is not one of")
    refused(invoke("tasks", "list", "--user", " ", "--db", db.url), 2, "--user", "is empty")
    refused(invoke("tasks", "list", "--open", "--status", "DONE", "--db", db.url), 2, "not both")
    refused(invoke("tasks", "list", "--after", "ut-gone", "--db", db.url), 1, "'ut-gone' is not a stored user task")
    refused(invoke("tasks", "claim", tasks["r-grp"], "--user", "", "--db", db.url), 2, "--user", "is empty")
    refused(invoke("tasks", "claim", tasks["r-grp"], "--db", db.url), 2, "--user")
    refused(invoke("tasks", "complete", tasks["r-ann"], "--user", "", "--db", db.url), 2, "is empty")
    refused(invoke("tasks", "release", tasks["r-ann"], "--by", "", "--db", db.url), 2, "--by", "is empty")
    refused(invoke("tasks", "reassign", tasks["r-ann"], "--db", db.url), 2, "give --user USER, --group GROUP or both")
    refused(invoke("tasks", "reassign", tasks["r-ann"], "--group", "", "--db", db.url), 2, "--group", "is empty")
    assert stored(db.url, tasks["r-grp"]).status.value == "UNASSIGNED"
    assert stored(db.url, tasks["r-ann"]).user == "ann"


def test_a_missing_database_is_not_created(invoke: Invoke, tmp_path: Path) -> None:
    refused(invoke("tasks", "list", "--db", str(tmp_path / "none.db")), 1, "no database at")
    assert not (tmp_path / "none.db").exists()


def test_runs_history_describes_user_task_entries(invoke: Invoke, db: Db, tasks: dict[str, str]) -> None:
    ok(invoke("tasks", "claim", tasks["r-grp"], "--user", "bob", "--db", db.url))
    history = ok(invoke("runs", "history", "r-grp", "--db", db.url))
    assert f"{tasks['r-grp']} form review for group support" in history
    assert f"{tasks['r-grp']} claimed by bob" in history


def test_two_processes_completing_at_once_one_wins_the_other_exits_3(db: Db, tasks: dict[str, str]) -> None:
    """Two ``wfc tasks complete`` processes on the same task: exactly one
    completes it, the other is told it is DONE (exit 3)."""
    import os
    import subprocess

    from run_helpers import WFC

    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    command = [str(WFC), "tasks", "complete", tasks["r-grp"], "-f", "approved=true", "--db", db.url]
    processes = [
        subprocess.Popen([*command, "-f", f"amount={n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
        for n in (1, 2)
    ]  # fmt: skip
    outcomes = sorted((p.wait(60), *p.communicate()) for p in processes)
    assert [code for code, _, _ in outcomes] == [0, 3], outcomes
    assert "now DONE" in outcomes[0][1]
    assert "it is DONE" in outcomes[1][2] and "Traceback" not in outcomes[1][2]
    task = stored(db.url, tasks["r-grp"])
    assert [kind for kind, _ in audit_kinds(task)].count("USER_TASK_COMPLETED") == 1
    assert stored_run(db.url, "r-grp").output["amount"] == task.values["amount"]  # type: ignore[index]
