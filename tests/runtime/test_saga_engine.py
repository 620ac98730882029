"""Sagas through the engine: ``examples/currency_exchange.py`` on its approved,
rejected, timed-out and frozen-account paths, and a SIGKILL in the middle of
a compensation (the compensation resumes in a new process, forward steps
never run again)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from rtclock import ManualClock, manual_engine
from rtengine import example, recorded, until
from rtspec import fail, out, spec, task, undo

from wfc.runtime import Engine, RunStatus, TaskContext
from wfc.runtime import task as wfc_task
from wfc.specs import dumps

pytestmark = pytest.mark.anyio


def transfer(transfer_id: str, target: str = "NL91-TARGET") -> dict[str, Any]:
    return {
        "transfer-id": transfer_id,
        "source-account": "NL02-SOURCE",
        "target-account": target,
        "amount": 100.0,
        "source-currency": "EUR",
        "target-currency": "USD",
    }


async def exchange(
    db_url: str, transfer_id: str, answer: Any = None, target: str = "NL91-TARGET"
) -> tuple[Any, list[tuple[str, list[Any]]]]:
    """Run one exchange; ``answer`` is the compliance payload, or ``None`` to let the wait time out."""
    spec_, tasks = example("currency_exchange")
    calls: list[tuple[str, list[Any]]] = []
    clock = ManualClock()
    async with manual_engine(db_url, clock, tasks=recorded(tasks, calls), poll_interval=0.02) as engine:
        await engine.deploy(spec_)
        if answer is not None:  # sent before the run waits: kept until its wait comes
            sent = await engine.send_event("compliance-approved", answer, correlation=transfer_id)
            assert sent.run_id is None
        run_id = await engine.start("currency-exchange", transfer(transfer_id, target), run_id=transfer_id)
        if answer is None:
            await until(engine, run_id, lambda r: "compliance-approved" in str(r.waiting_on))
            clock.advance(3601)  # an hour later
        run = await engine.wait(run_id, timeout=10)
    return run, calls


async def test_an_approved_transfer_debits_credits_and_reports(db_url: str) -> None:
    run, calls = await exchange(db_url, "t-ok", {"approved": True})
    assert run.status is RunStatus.COMPLETED and isinstance(run.output, float) and run.output > 0
    assert [name for name, _ in calls] == [
        "verify-funds", "lock-fx-rate", "debit-account", "credit-account", "report-transfer",
    ]  # fmt: skip


async def test_a_transfer_nobody_approves_in_an_hour_times_out_and_releases_the_rate(db_url: str) -> None:
    run, calls = await exchange(db_url, "t-late")
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and (run.failure.name, run.failure.node) == ("TIMEOUT", "wait-compliance-approved")
    assert [name for name, _ in calls] == ["verify-funds", "lock-fx-rate", "release-fx-rate"]


async def test_a_rejected_transfer_releases_the_rate(db_url: str) -> None:
    run, calls = await exchange(db_url, "t-no", {"approved": False})
    assert run.status is RunStatus.COMPENSATED and run.failure is not None
    assert run.failure.name == "compliance-rejected"
    assert [name for name, _ in calls][-1] == "release-fx-rate"


async def test_a_frozen_target_account_refunds_the_debit_then_releases_the_rate(db_url: str) -> None:
    run, calls = await exchange(db_url, "t-frozen", {"approved": True}, target="NL-frozen-1")
    assert run.status is RunStatus.COMPENSATED and run.failure is not None and run.failure.name == "account-frozen"
    assert [name for name, _ in calls][-2:] == ["refund-debit", "release-fx-rate"]


CHILD = textwrap.dedent(
    """
    import sys, pathlib, anyio
    from wfc.runtime import Engine, TaskContext, task
    from wfc.specs import loads

    work = pathlib.Path(sys.argv[1])

    def note(line):
        with open(work / "effects.log", "a") as f:
            f.write(line + "\\n")

    @task("charge")
    def charge(ctx: TaskContext) -> dict:
        note(f"charge {ctx.idempotency_key}")
        return {"id": "pay-1"}

    @task("reserve")
    def reserve(ctx: TaskContext) -> dict:
        note(f"reserve {ctx.idempotency_key}")
        return {"id": "rsv-1"}

    @task("release")
    async def release(reservation: str, ctx: TaskContext) -> None:
        note(f"release {reservation} {ctx.idempotency_key} {ctx.attempt}")
        await anyio.sleep_forever()

    @task("refund")
    def refund(payment: str, ctx: TaskContext) -> None:
        note(f"refund {payment} {ctx.idempotency_key}")

    async def main():
        url = f"sqlite:///{work / 'wfc.db'}"
        async with Engine.open(url, tasks=[charge, reserve, release, refund], poll_interval=0.05) as engine:
            await engine.deploy(loads((work / "spec.json").read_bytes()))
            await engine.start("saga", run_id="saga-1")
            await anyio.sleep_forever()

    anyio.run(main)
    """
)


def _note(work: Path, line: str) -> None:
    with open(work / "effects.log", "a") as handle:
        handle.write(line + "\n")


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql).fetchall())


async def test_sigkill_during_compensation_then_reopen_resumes_the_compensation(tmp_path: Path) -> None:
    s = spec(
        "saga",
        [
            ("charge", task("charge", compensation=undo("refund", out("charge", "id")))),
            ("reserve", task("reserve", compensation=undo("release", out("reserve", "id")))),
            ("boom", fail("carrier-gone", "no carrier for this address")),
        ],
    )
    (tmp_path / "spec.json").write_bytes(dumps(s))
    (tmp_path / "child.py").write_text(CHILD)
    log = tmp_path / "effects.log"
    child = subprocess.Popen(
        [sys.executable, str(tmp_path / "child.py"), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with anyio.fail_after(30):
            while not (log.exists() and "release" in log.read_text()):
                if child.poll() is not None:
                    raise AssertionError(f"engine process exited early: {child.communicate()}")
                await anyio.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    db = tmp_path / "wfc.db"
    [(status, state)] = _rows(db, "SELECT status, state FROM runs")
    assert status == "RUNNING" and msgspec.json.decode(state)["saga"]["cause"] == "failure"
    assert _rows(db, "SELECT task, idempotency_key FROM tasks") == [("release", "saga-1/0/reserve/1/compensate")]

    @wfc_task("charge")
    def charge(ctx: TaskContext) -> dict[str, str]:
        _note(tmp_path, f"charge {ctx.idempotency_key}")
        return {"id": "pay-1"}

    @wfc_task("reserve")
    def reserve(ctx: TaskContext) -> dict[str, str]:
        _note(tmp_path, f"reserve {ctx.idempotency_key}")
        return {"id": "rsv-1"}

    @wfc_task("release")
    def release(reservation: str, ctx: TaskContext) -> None:
        _note(tmp_path, f"release {reservation} {ctx.idempotency_key} {ctx.attempt}")

    @wfc_task("refund")
    def refund(payment: str, ctx: TaskContext) -> None:
        _note(tmp_path, f"refund {payment} {ctx.idempotency_key}")

    async with Engine.open(f"sqlite:///{db}", tasks=[charge, reserve, release, refund], poll_interval=0.05) as engine:
        run = await engine.wait("saga-1", timeout=20)
        history = await engine.history("saga-1")
    assert run.status is RunStatus.COMPENSATED
    assert run.failure is not None and run.failure.name == "carrier-gone"
    assert log.read_text().splitlines() == [
        "charge saga-1/0/charge/1",
        "reserve saga-1/0/reserve/1",
        "release rsv-1 saga-1/0/reserve/1/compensate 1",
        "release rsv-1 saga-1/0/reserve/1/compensate 1",  # delivered again, same key, after the crash
        "refund pay-1 saga-1/0/charge/1/compensate",
    ]
    assert [h.kind for h in history].count("COMPENSATION_STARTED") == 1
    assert _rows(db, "SELECT count(*) FROM tasks") == [(0,)]
