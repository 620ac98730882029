"""``send_event`` by run id refuses an event name the run's workflow never
waits for (no wait node, no interrupt handler, in any thread), listing the
names it does wait for; any name it can take is accepted, even early. Both
stores."""

from __future__ import annotations

from typing import Any

import pytest
from rtdb import Db
from rtspec import exit_, interrupt, sleep, spawn, spec, wait, wait_threads

from wfc.runtime import Engine, RunStatus, UnexpectedEventError, UsageError

pytestmark = pytest.mark.anyio


def listening() -> Any:
    """Waits for ``go`` in the main thread and ``child-go`` in a child; takes
    ``ping`` as an interrupt."""
    return spec(
        "listening",
        [("s", spawn("child")), ("w", wait("go")), ("j", wait_threads("s")), ("end", exit_())],
        threads={"child": [("cw", wait("child-go")), ("ce", exit_())], "on-ping": [("pe", exit_())]},
        interrupts=[interrupt("ping", "on-ping")],
    )


async def test_an_event_nobody_waits_for_is_refused_with_the_names_that_are(db_url: str, db: Db) -> None:
    async with Engine.open(db_url, poll_interval=0.05) as engine:
        await engine.deploy(listening())
        run_id = await engine.start("listening", run_id="r-1")
        with pytest.raises(UnexpectedEventError) as info:
            await engine.send_event("goo", {"x": 1}, run_id=run_id)
        error = info.value
        assert isinstance(error, UsageError)
        assert (error.run_id, error.workflow, error.event) == ("r-1", "listening", "goo")
        assert error.expected == ("child-go", "go", "ping")
        assert "it waits for: 'child-go', 'go', 'ping'" in str(error)
        assert (await engine.get_run(run_id)).pending_events == ()
    assert db.rows("SELECT count(*) FROM events") == [(0,)]  # nothing stored


async def test_every_name_it_can_take_is_accepted(db_url: str) -> None:
    async with Engine.open(db_url, poll_interval=0.05) as engine:
        await engine.deploy(listening())
        run_id = await engine.start("listening", run_id="r-1")
        for name in ("ping", "child-go", "go"):
            sent = await engine.send_event(name, None, run_id=run_id)
            assert sent.run_id == run_id
        run = await engine.wait(run_id, timeout=10)
    assert run.status is RunStatus.COMPLETED


async def test_a_workflow_without_waits_says_so(db_url: str) -> None:
    async with Engine.open(db_url, poll_interval=0.05) as engine:
        await engine.deploy(spec("deaf", [("s", sleep(600)), ("end", exit_())]))
        await engine.start("deaf", run_id="d")
        with pytest.raises(UnexpectedEventError, match="it waits for no event at all"):
            await engine.send_event("stop", run_id="d")
        # Sent by correlation, an event is not tied to a run yet: it is stored.
        sent = await engine.send_event("anything", correlation="k")
        assert sent.run_id is None
