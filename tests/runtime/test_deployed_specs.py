"""A spec read back from the database is not judged by rules newer than the
wfc that deployed it: its runs go on after an upgrade. Both stores."""

from __future__ import annotations

import anyio
import pytest
from rtspec import edge, exit_, lit, spec, task

from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.specs import SpecError, dumps, loads, loads_deployed, validation

pytestmark = pytest.mark.anyio


async def test_runs_of_a_spec_deployed_under_looser_rules_go_on(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    @wfc_task("poll")
    def poll() -> int:
        calls.append(1)
        return len(calls)

    with monkeypatch.context() as older_wfc:  # one that allowed a loop with no way out
        older_wfc.setattr(validation, "trapped_nodes", lambda thread: [])
        forever = spec(
            "poller", [("poll", task("poll", edges=[edge("poll", lit(True)), edge("end")])), ("end", exit_())]
        )
        async with Engine.open(db_url, serve=False) as engine:
            await engine.deploy(forever)
            await engine.start("poller", {}, run_id="p1")
    with pytest.raises(SpecError, match="poll"):
        loads(dumps(forever))  # today's rules refuse it as a new spec
    assert loads_deployed(dumps(forever)) == forever
    async with Engine.open(db_url, tasks=[poll], poll_interval=0.05) as engine:
        with anyio.fail_after(10):
            while len(calls) < 3:
                await anyio.sleep(0.02)
        run = await engine.get_run("p1")
        assert run.status is RunStatus.RUNNING and run.failure is None
        assert (await engine.get_spec("poller")).hash == forever.hash
