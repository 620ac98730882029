"""Golden replay: every checked-in golden file (tests/runtime/golden/) is
replayed through the interpreter and must give exactly the recorded
transitions; a change of semantics shows as a diff, and is accepted by
regenerating the files (see tests/runtime/golden/README.md)."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from golden.canon import text
from golden.catalog import files, path_of, record, scenarios
from golden.replay import diff, mismatches

from wfc.runtime.interpreter import Input
from wfc.specs import ERROR_CODES, Node

FILES = files()
HOW = "if the change is intended, run `python -m tests.runtime.golden.regenerate` and review the diff"


def load(path: Path) -> dict[str, typing.Any]:
    data: dict[str, typing.Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_interpreter_reproduces_every_recorded_transition(path: Path) -> None:
    found = mismatches(load(path), path.name)
    assert not found, f"{path.name}: the interpreter no longer gives the recorded transitions ({HOW}):\n\n" + "\n".join(
        found
    )


@pytest.mark.parametrize("name", list(scenarios()))
def test_each_scenario_still_records_its_checked_in_file(name: str) -> None:
    path = path_of(name)
    assert path.exists(), (
        f"scenario {name!r} has no golden file; run `python -m tests.runtime.golden.regenerate {name}`"
    )
    recorded, now = path.read_text(encoding="utf-8"), text(record(name))
    assert recorded == now, f"{path.name} is out of date with its scenario ({HOW}):\n" + diff(recorded, now, path.name)


def test_every_golden_file_has_a_scenario() -> None:
    orphans = sorted(p.name for p in FILES if p.stem not in scenarios())
    assert not orphans, f"golden files without a scenario (regenerate removes them): {orphans}"


def _covered() -> tuple[set[str], set[str], set[str], set[str]]:
    """Node kinds, input kinds, failure names and journal kinds the files hold."""
    nodes: set[str] = set()
    inputs: set[str] = set()
    failures: set[str] = set()
    journal: set[str] = set()
    for path in FILES:
        doc = load(path)
        for thread in doc["spec"]["threads"].values():
            nodes.update(node["kind"] for node in thread["nodes"].values())
        for step in doc["steps"]:
            inputs.add("begin" if "begin" in step else "crash" if "crash" in step else step["input"]["input"])
            if "error" in step["expect"]:
                failures.add(step["expect"]["error"]["type"])
                continue
            for entry in step["expect"]["journal"]:
                journal.add(entry["kind"])
                if "error" in entry.get("detail", {}):
                    failures.add(entry["detail"]["error"])
            if step["expect"].get("refusal"):
                failures.add("REFUSED")
    return nodes, inputs, failures, journal


def test_the_files_cover_every_node_kind_input_and_failure_path() -> None:
    nodes, inputs, failures, journal = _covered()
    all_nodes = {kind.__struct_config__.tag for kind in typing.get_args(Node)}
    all_inputs = {kind.__struct_config__.tag for kind in typing.get_args(Input)} | {"begin", "crash"}
    assert len(all_nodes) >= 12 and all_nodes - nodes == set(), "node kinds no golden file runs"
    assert all_inputs - inputs == set(), "inputs no golden file feeds"
    wanted_failures = {*ERROR_CODES, "INTERNAL_ERROR", "COMPENSATION_FAILED", "InputError", "REFUSED"}
    assert wanted_failures - failures == set(), "failure paths no golden file takes"
    wanted_journal = {
        "FAILURE_HANDLED", "INTERRUPT_FAILED", "THREAD_QUEUED", "THREAD_REVIVED", "THREADS_TIMEOUT",
        "EVENT_TIMEOUT", "COMPENSATION_SKIPPED", "RUN_CANCELLED", "RUN_COMPENSATED", "TASK_CLAIMED",
    }  # fmt: skip
    assert wanted_journal - journal == set(), "journal kinds no golden file shows"
