"""Replaying recorded runs against another version of their workflow
(:mod:`wfc.runtime.replay`): runs recorded by a real engine on SQLite (and
PostgreSQL), replayed against versions compiled from the DSL (rtversions):
the same version and a version whose change the runs never meet are
compatible; a changed branch condition, a renamed task, a removed node and
a new required input each diverge at the first entry they change, saying
what the run did and what the new version does. Nothing is written."""

from __future__ import annotations

import pytest
from rtdb import Db
from rtversions import BRANCH, NEW_OPTIONAL, NEW_REQUIRED, NO_WAIT, OTHER, RENAMED, V1, record

from wfc.runtime import UnknownRunError, UsageError
from wfc.runtime._journal_inputs import entry_dict
from wfc.runtime._reader import open_reader
from wfc.runtime.interpreter import begin
from wfc.runtime.replay import JournalMismatch, ReplayReport, default_retries, replay, replay_stored
from wfc.specs import WorkflowSpec

pytestmark = pytest.mark.anyio


async def _replays(url: str, spec: WorkflowSpec, ids: dict[str, str]) -> dict[str, ReplayReport]:
    async with open_reader(url) as reader:
        return {name: await replay_stored(reader, run_id, spec) for name, run_id in ids.items()}


async def _journal_sizes(db: Db) -> int:
    return int(db.rows("SELECT count(*) FROM journal")[0][0])


async def test_a_run_replays_on_its_own_version_and_on_changes_it_never_meets(db: Db) -> None:
    ids = await record(db.url)
    entries = await _journal_sizes(db)
    same = await _replays(db.url, V1, ids)
    assert all(r.compatible for r in same.values()), same
    assert {name: r.entries for name, r in same.items()} == {
        name: int(db.rows(f"SELECT count(*) FROM journal WHERE run_id = 'order-{name}'")[0][0]) for name in ids
    }  # every entry replayed
    assert same["big"].status == "COMPLETED" and same["parked"].status == "RUNNING"
    branch = await _replays(db.url, BRANCH, ids)
    # 20 and 500 are on the same side of 50 as of 100; the parked run has not reached the branch yet.
    assert [name for name, r in branch.items() if r.compatible] == ["small", "big", "parked", "shipping"]
    assert await _journal_sizes(db) == entries  # replay writes nothing


async def test_a_changed_branch_condition_diverges_where_the_run_took_the_other_branch(db: Db) -> None:
    ids = await record(db.url)
    report = (await _replays(db.url, BRANCH, {"medium": ids["medium"]}))["medium"]
    d = report.divergence
    assert d is not None and report.outcome == "diverged"
    assert (report.recorded_version, report.spec_version) == ("1.0", "1.1")
    assert d.input == "EventArrived" and d.node == "end-if"  # once approved, the 70.0 run skipped the review
    assert d.recorded is not None and d.recorded["kind"] == "NODE_ENTERED" and d.recorded["node"] == "end-if"
    assert d.replayed is not None and d.replayed["kind"] == "TASK_DISPATCHED" and d.replayed["node"] == "review"
    assert "the new version writes" in d.reason and "task=review" in d.reason
    assert d.seq == d.recorded["seq"] and report.entries == d.seq - 1


async def test_a_renamed_task_diverges_at_its_dispatch(db: Db) -> None:
    ids = await record(db.url)
    report = (await _replays(db.url, RENAMED, {"small": ids["small"]}))["small"]
    d = report.divergence
    assert d is not None and d.node == "ship"
    assert d.recorded is not None and d.recorded["detail"]["task"] == "ship"
    assert d.replayed is not None and (d.replayed["node"], d.replayed["detail"]["task"]) == ("dispatch", "dispatch")
    assert "task=ship" in d.reason and "task=dispatch" in d.reason


async def test_a_removed_node_diverges_where_the_run_entered_it(db: Db) -> None:
    ids = await record(db.url)
    reports = await _replays(db.url, NO_WAIT, ids)
    for report in reports.values():
        d = report.divergence
        assert d is not None and d.node == "wait-approved", report
        assert d.recorded is not None and d.recorded["kind"] == "EVENT_WAITING"
        assert d.replayed is not None and d.replayed["node"] == "if"


async def test_a_new_required_input_refuses_the_recorded_start() -> None:
    started = begin(V1, "r1", {"order-id": "o", "amount": 1.0}, 1000.0)
    journal = [entry_dict(entry) for entry in started.journal]  # the run started and dispatched charge
    report = replay(NEW_REQUIRED, "r1", journal, {})
    assert report.divergence is not None and report.divergence.seq == 1 and report.divergence.replayed is None
    assert "'channel': required str input is missing" in report.divergence.reason
    assert replay(NEW_OPTIONAL, "r1", journal, {}).compatible  # a default fills it in
    with pytest.raises(JournalMismatch):
        replay(V1, "r1", journal[1:], {})  # a journal starts with RUN_STARTED


async def test_a_spec_of_another_workflow_or_an_unknown_run_is_refused(db: Db) -> None:
    ids = await record(db.url)
    async with open_reader(db.url) as reader:
        with pytest.raises(UsageError, match=r"run order-small is a run of workflow 'order'.*'invoice'"):
            await replay_stored(reader, ids["small"], OTHER)
        with pytest.raises(UnknownRunError):
            await replay_stored(reader, "no-such-run", V1)


def test_task_default_retries_are_read_back_from_the_recorded_failures() -> None:
    def failed(attempt: int, retried: bool, task: str = "charge", kind: str = "error") -> dict[str, object]:
        detail: dict[str, object] = {"task": task, "error": "E", "message": "m", "kind": kind}
        if retried:
            detail = {"task": task, "error": "E", "message": "m", "retry_in": 1.0, "next_attempt": attempt + 1}
        return {"seq": attempt, "at": 1.0, "kind": "TASK_FAILED", "thread": 0, "node": "charge", "attempt": attempt,
                "detail": detail}  # fmt: skip

    assert default_retries([failed(1, True), failed(2, True)]) == {"charge": 2}  # at least 2 retries
    assert default_retries([failed(1, True), failed(2, False)]) == {"charge": 1}  # the 2nd failure was the last
    assert default_retries([failed(1, False, kind="exception")]) == {}  # business exceptions are never retried
    assert default_retries([failed(1, True)], recorded=V1) == {"charge": 1}  # V1's charge leaves retries unset


def test_replay_runs_offline_without_an_engine() -> None:
    """The replay module reads the store through a Reader and imports no engine."""
    import subprocess
    import sys

    probe = "import sys, wfc.runtime.replay; print(sorted(m for m in sys.modules if m.startswith('wfc.runtime._')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded = done.stdout
    for engine_only in ("_engine", "_loop", "_turn", "_attempts", "_tasks", "_worker"):
        assert f"wfc.runtime.{engine_only}'" not in loaded, loaded


def test_a_masked_number_input_replays_with_a_placeholder_of_its_type() -> None:
    """The journal shows a masked input as ``***``: a replay of a masked
    float starts with 0.0, not with a string the spec would refuse."""
    import msgspec

    masked = msgspec.structs.replace(
        V1, variables={**V1.variables, "amount": msgspec.structs.replace(V1.variables["amount"], masked=True)}
    )
    started = begin(masked, "r1", {"order-id": "o", "amount": 12.5}, 1000.0)
    journal = [entry_dict(entry) for entry in started.journal]
    assert journal[0]["detail"]["inputs"]["amount"] == "***"
    assert replay(masked, "r1", journal, {}).compatible
