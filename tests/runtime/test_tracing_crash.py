"""Tracing across a SIGKILL: a process exports spans to a file as runs move,
is killed with attempts in flight, and a new process finishes the runs.

The guarantee under test (README "Tracing"): delivery is at least once with
ids derived from the journal, so every committed attempt has exactly one span
id; a span exported again after the crash is the same span (every field
equal); every span of a run carries the trace id stored with the run, the
recovered attempts included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import pytest
from rtdb import Db

pytest.importorskip("opentelemetry.sdk.trace", reason="tracing tests need pip install 'wfc[otel]'")

pytestmark = pytest.mark.anyio

RUNS = ("r1", "r2", "r3")

CHILD = r'''
import asyncio, json, os, sys
from pathlib import Path

import anyio
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import Engine, TaskContext, task
from wfc.runtime.tracing import Tracing

work, url, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]


def note(line):
    with open(work / "effects.log", "a") as handle:
        handle.write(line + "\n")


class JsonLines(SpanExporter):
    """Appends each exported span as a JSON line, flushed before returning."""

    def export(self, spans):
        with open(work / "spans.jsonl", "a") as handle:
            for s in spans:
                handle.write(json.dumps({
                    "pid": os.getpid(),
                    "trace_id": f"{s.context.trace_id:032x}",
                    "span_id": f"{s.context.span_id:016x}",
                    "parent_id": None if s.parent is None else f"{s.parent.span_id:016x}",
                    "name": s.name,
                    "start": s.start_time,
                    "end": s.end_time,
                    "attributes": dict(s.attributes),
                    "links": [f"{l.context.span_id:016x}" for l in s.links],
                    "events": [e.name for e in s.events],
                    "status": s.status.status_code.name,
                }, sort_keys=True) + "\n")
            handle.flush()
        return SpanExportResult.SUCCESS


@task("flaky", retries=2)
async def flaky(label: str, ctx: TaskContext) -> str:
    if ctx.attempt == 1:
        raise ConnectionError("first attempt fails")
    return label


@task("slow")
async def slow(label: str, ctx: TaskContext) -> str:
    if mode == "first":
        note(f"slow-started {ctx.run_id}")
        await asyncio.sleep(3600)  # killed here
    return label


@task("quick")
async def quick(label: str) -> str:
    return label


def crashy(wf: WorkflowThread) -> None:
    wf.execute("flaky", "one", retries=2, backoff=None)
    wf.execute("slow", "two")
    wf.sleep(0.05)
    wf.execute("quick", "three")


async def main():
    tracing = Tracing(JsonLines(), poll_interval=0.05, lease_seconds=1.0)
    async with Engine.open(url, [flaky, slow, quick], lease_seconds=1.0, poll_interval=0.05,
                           tracing=tracing) as engine:
        if mode == "first":
            await engine.deploy(Workflow("crashy", crashy).compile())
            for run_id in ("r1", "r2", "r3"):
                await engine.start("crashy", run_id=run_id)
            await anyio.sleep(3600)
        for run_id in ("r1", "r2", "r3"):
            run = await engine.wait(run_id, timeout=60)
            note(f"finished {run_id} {run.status.value}")

anyio.run(main)
'''


def spawn(work: Path, url: str, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(work / "child.py"), str(work), url, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_after_a_sigkill_every_committed_attempt_has_exactly_one_span_in_the_runs_trace(
    tmp_path: Path, db: Db
) -> None:
    (tmp_path / "child.py").write_text(CHILD)
    effects, spans_file = tmp_path / "effects.log", tmp_path / "spans.jsonl"
    first = spawn(tmp_path, db.url, "first")
    try:
        with anyio.fail_after(30):
            # killed with the slow attempts in flight, after spans of finished attempts went out
            while sum(ln.startswith("slow-started") for ln in lines(effects)) < len(RUNS) or not any(
                '"name": "task flaky"' in ln for ln in lines(spans_file)
            ):
                if first.poll() is not None:
                    raise AssertionError(f"the first engine process exited early: {first.communicate()}")
                await anyio.sleep(0.02)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    before_kill = len(lines(spans_file))

    second = spawn(tmp_path, db.url, "finish")
    _out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err.decode()
    assert [ln for ln in lines(effects) if ln.startswith("finished")] == [f"finished {r} COMPLETED" for r in RUNS]

    spans = [json.loads(ln) for ln in lines(spans_file)]
    assert len(spans) > before_kill
    # The same span id is the same span: exported again after the crash, never changed.
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        copies[span["span_id"]].append({k: v for k, v in span.items() if k != "pid"})
    for span_id, found in copies.items():
        assert all(c == found[0] for c in found), f"span {span_id} was exported with different contents"
    unique = [found[0] for found in copies.values()]

    # Every span of a run is in the trace stored with the run.
    stored = {run_id: context.split("-")[1] for run_id, context in db.rows("SELECT id, trace_context FROM runs")}
    assert set(stored) == set(RUNS)
    for span in unique:
        assert span["trace_id"] == stored[span["attributes"]["wfc.run_id"]]

    # Exactly one span per committed attempt, and no attempt span that the journal does not hold.
    dispatched = db.rows(
        "SELECT run_id, seq, node, attempt, detail FROM journal WHERE kind = 'TASK_DISPATCHED' ORDER BY run_id, seq"
    )
    attempts = {(run_id, seq): (node, attempt, json.loads(detail)) for run_id, seq, node, attempt, detail in dispatched}
    assert len(attempts) == 4 * len(RUNS)  # flaky twice, slow, quick
    task_spans = [s for s in unique if s["name"].startswith("task ")]
    by_entry = defaultdict(list)
    for span in task_spans:
        by_entry[(span["attributes"]["wfc.run_id"], span["attributes"]["wfc.seq"])].append(span)
    assert set(by_entry) == set(attempts)
    for key, found in by_entry.items():
        assert len(found) == 1, f"attempt {key} has {len(found)} different spans"
        node, attempt, detail = attempts[key]
        attributes = found[0]["attributes"]
        assert (attributes["wfc.node"], attributes["wfc.attempt"]) == (node, attempt)
        assert attributes["wfc.idempotency_key"] == detail["idempotency_key"]
        assert attributes["wfc.outcome"] == ("error" if node == "flaky" and attempt == 1 else "ok")

    # The attempts in flight at the kill were finished and exported by the new process, in the same trace.
    pids = {s["pid"] for s in spans}
    assert len(pids) == 2
    recovered = [s for s in spans if s["name"] == "task slow"]
    assert {s["pid"] for s in recovered} == {second.pid}
    assert all("redelivered" in s["events"] for s in recovered)
    roots = {s["attributes"]["wfc.run_id"]: s for s in unique if s["name"] == "run crashy"}
    assert set(roots) == set(RUNS)
    for span in recovered:
        assert span["parent_id"] == roots[span["attributes"]["wfc.run_id"]]["span_id"]
    assert all(r["parent_id"] is None and r["attributes"]["wfc.status"] == "COMPLETED" for r in roots.values())
