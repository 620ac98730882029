"""Many runs' transitions share one transaction: the commit loop drains
every queued command into one BEGIN IMMEDIATE ... COMMIT."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import pytest
from rtdb import Db
from rtspec import exit_, out, spec, task

from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.runtime.store import Store, StoreTransaction

pytestmark = pytest.mark.anyio


@wfc_task("inc")
async def inc(x: int) -> int:
    return x + 1


async def test_concurrent_runs_are_committed_in_shared_transactions(db: Db, monkeypatch: Any) -> None:
    commits = {"count": 0}
    original = Store.transaction

    def counting(
        self: Store, *, pipelined: Callable[[], bool] | None = None
    ) -> AbstractAsyncContextManager[StoreTransaction]:
        commits["count"] += 1
        return original(self, pipelined=pipelined)

    monkeypatch.setattr(Store, "transaction", counting)
    s = spec(
        "three",
        [("a", task("inc", 0)), ("b", task("inc", out("a"))), ("c", task("inc", out("b"))), ("end", exit_(out("c")))],
    )
    runs = 200
    async with Engine.open(db.url, tasks=[inc], poll_interval=0.05) as engine:
        await engine.deploy(s)
        commits["count"] = 0
        results: list[Any] = []

        async def one() -> None:
            run_id = await engine.start("three")
            results.append(await engine.wait(run_id, timeout=60))

        async with anyio.create_task_group() as tg:
            for _ in range(runs):
                tg.start_soon(one)
    assert {r.status for r in results} == {RunStatus.COMPLETED} and {r.output for r in results} == {3}
    transitions = runs * 4  # a start and three task results per run
    # One commit per transition would be 800; batching needs far fewer.
    assert commits["count"] < transitions / 4, commits
