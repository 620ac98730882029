"""``wfc replay`` and ``wfc migrate plan`` on runs of ``order`` 1.0 recorded
by a real engine (tests/runtime/rtversions.py), on SQLite and PostgreSQL:
the text and --json outputs, exit codes (0 compatible, 4 diverged, 1 bad
input, 2 usage), the mapping file in JSON and TOML, and that both read
without importing the engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from rtdb import Db
from rtversions import BRANCH, NEW_REQUIRED, NO_WAIT, OTHER, RENAMED, V1, record
from run_helpers import Invoke, make_invoke, no_traceback, wfc_process
from test_cli_startup import modules_after

from wfc.specs import WorkflowSpec, dumps

#: What an engine imports and these commands must not.
ENGINE_ONLY = ("wfc.runtime._engine", "wfc.runtime._loop", "wfc.runtime._turn", "wfc.runtime._attempts",
               "wfc.runtime._tasks", "wfc.runtime._worker")  # fmt: skip


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


def _spec(tmp_path: Path, spec: WorkflowSpec, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(dumps(spec))
    return str(path)


# ---------------------------------------------------------------- wfc replay


def test_replay_says_compatible_or_where_it_diverges(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    anyio.run(record, db.url)
    same = _spec(tmp_path, V1, "v1.json")
    branch = _spec(tmp_path, BRANCH, "branch.json")
    ok = wfc("replay", "order-small", "--spec", same, "--db", db.url)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == (
        "run order-small (order 1.0, COMPLETED) against 1.0: compatible (13 journal entries, 4 steps replayed)\n"
    )
    diverged = wfc("replay", "order-medium", "order-small", "--spec", branch, "--db", db.url)
    assert diverged.exit_code == 4, diverged.output
    lines = diverged.stdout.splitlines()
    assert lines[0] == (
        "run order-medium (order 1.0, COMPLETED) against 1.1: diverges at journal entry #9, node end-if (thread 0)"
    )
    assert lines[1] == "  input: EventArrived (the step from entry #6)"
    assert lines[2] == (
        "  the run recorded #9 NODE_ENTERED of node end-if (thread 0); the new version writes #9 TASK_DISPATCHED "
        "of node review (thread 0) task=review"
    )
    assert lines[3].startswith("run order-small (order 1.0, COMPLETED) against 1.1: compatible")
    assert lines[4] == "1 of 2 runs compatible, 1 diverges"


def test_replay_json_and_sampling(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    anyio.run(record, db.url)
    removed = _spec(tmp_path, NO_WAIT, "no-wait.json")
    result = wfc("replay", "--sample", "3", "--workflow", "order", "--spec", removed, "--db", db.url, "--json")
    assert result.exit_code == 4, result.output
    doc = json.loads(result.stdout)
    assert doc["spec_version"] == "1.1" and doc["compatible"] is False
    assert len(doc["runs"]) == 3  # the 3 newest runs of order
    first = doc["runs"][0]
    assert first["outcome"] == "diverged" and first["recorded_version"] == "1.0"
    divergence = first["divergence"]
    assert divergence["node"] == "wait-approved" and divergence["recorded"]["kind"] == "EVENT_WAITING"
    assert divergence["replayed"]["node"] == "if" and divergence["seq"] == divergence["recorded"]["seq"]
    renamed = _spec(tmp_path, RENAMED, "renamed.json")
    parked = json.loads(wfc("replay", "order-parked", "--spec", renamed, "--db", db.url, "--json").stdout)
    assert parked["compatible"] is True and parked["runs"][0]["divergence"] is None


def test_replay_bad_inputs_exit_1_or_2_with_a_message(wfc: Invoke, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    anyio.run(record, url)
    spec = _spec(tmp_path, V1, "v1.json")
    other = _spec(tmp_path, OTHER, "invoice.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    cases = [
        (["nope", "--spec", spec], 1, "no run with id 'nope'"),
        (["order-small", "--spec", other], 1, "run order-small is a run of workflow 'order'"),
        (["order-small", "--spec", "missing.json"], 1, "missing.json: no such file or directory"),
        (["order-small", "--spec", "broken.json"], 1, "broken.json"),
        (["--sample", "2", "--workflow", "invoice", "--spec", spec], 1, "is a spec of workflow 'order', not of"),
        (["--sample", "2", "--spec", spec], 2, "--sample needs --workflow"),
        (["--spec", spec], 2, "give RUN_ID(s)"),
        (["order-small"], 2, "--spec"),
    ]
    for args, code, message in cases:
        result = wfc("replay", *args, "--db", url)
        assert result.exit_code == code, (args, result.output)
        assert message in " ".join(result.stderr.split()), (args, result.stderr)
        assert no_traceback(result)


def test_replay_from_the_console_script_exits_4_on_divergence(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    anyio.run(record, url)
    spec = _spec(tmp_path, RENAMED, "renamed.json")
    done = wfc_process(tmp_path, "replay", "order-big", "--spec", spec, "--db", url)
    assert done.returncode == 4 and no_traceback(done), done.stderr
    assert "diverges at journal entry #12, node ship" in done.stdout
    modules = modules_after("replay", "order-big", "--spec", spec, "--db", url)
    assert "wfc.runtime.replay" in modules  # it did replay
    assert [m for m in modules if m in ENGINE_ONLY] == []


# ---------------------------------------------------------------- wfc migrate plan


def test_migrate_plan_prints_a_summary_and_each_run_s_reason(wfc: Invoke, db: Db) -> None:
    anyio.run(record, db.url, [NO_WAIT])
    result = wfc("migrate", "plan", "order", "--from", "1.0", "--to", "1.1", "--db", db.url)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "migration plan: order 1.0 → 1.1, 2 live runs" in text
    assert [line.split() for line in text.splitlines() if line.strip().startswith(("safe", "must"))][:3] == [
        ["safe", "now", "1"], ["safe", "later", "1"], ["must", "drain", "0"],
    ]  # fmt: skip
    assert "order-shipping" in text and "every thread is at a node the new version has" in text
    assert "order-parked" in text and "safe once it reaches review" in " ".join(text.split())


def test_migrate_plan_json_with_a_toml_or_json_mapping(wfc: Invoke, db: Db, tmp_path: Path) -> None:
    anyio.run(record, db.url, [NEW_REQUIRED])
    drained = json.loads(wfc("migrate", "plan", "order", "--from", "1.0", "--to", "2.0", "--db", db.url,
                             "--json").stdout)  # fmt: skip
    assert drained["summary"] == {"safe_now": 0, "safe_later": 0, "must_drain": 2}
    (tmp_path / "mapping.toml").write_text('[variables]\nchannel = "web"\n', encoding="utf-8")
    (tmp_path / "mapping.json").write_text('{"variables": {"channel": "web"}}', encoding="utf-8")
    for name in ("mapping.toml", "mapping.json"):
        result = wfc("migrate", "plan", "order", "--from", "1.0", "--to", "2.0", "--mapping", name, "--db", db.url,
                     "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["format"] == "wfc/migration-plan/1" and doc["mapping"]["variables"] == {"channel": "web"}
        assert doc["summary"] == {"safe_now": 2, "safe_later": 0, "must_drain": 0}
        assert {run["run_id"]: run["variables"] for run in doc["runs"]} == {
            "order-parked": {"channel": "web"}, "order-shipping": {"channel": "web"},
        }  # fmt: skip


def test_migrate_plan_bad_inputs_exit_1_with_a_message(wfc: Invoke, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    anyio.run(record, url, [RENAMED])
    (tmp_path / "bad.toml").write_text("[nodes.main\n", encoding="utf-8")
    (tmp_path / "wrong.json").write_text('{"nodes": {"main": {"ship": "nope"}}}', encoding="utf-8")
    cases = [
        (["--mapping", "bad.toml"], "bad.toml is not valid TOML"),
        (["--mapping", "wrong.json"], "wrong.json: nodes.main.ship: version 1.1 has no node 'nope'"),
        (["--mapping", "none.json"], "none.json: no such file or directory"),
    ]
    for extra, message in cases:
        result = wfc("migrate", "plan", "order", "--from", "1.0", "--to", "1.1", *extra, "--db", url)
        assert result.exit_code == 1 and message in " ".join(result.stderr.split()), (extra, result.output)
        assert no_traceback(result)
    unknown = wfc("migrate", "plan", "order", "--from", "1.0", "--to", "1.9", "--db", url)
    assert unknown.exit_code == 1 and "1.9" in unknown.stderr and no_traceback(unknown)
    usage = wfc("migrate", "plan", "order", "--from", "1.0", "--db", url)
    assert usage.exit_code == 2 and "--to" in usage.stderr
    modules = modules_after("migrate", "plan", "order", "--from", "1.0", "--to", "1.1", "--db", url)
    assert "wfc.runtime.migration_plan" in modules
    assert [m for m in modules if m in ENGINE_ONLY or m.startswith("wfc.runtime.interpreter.transitions")] == []
