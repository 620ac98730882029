"""Stored state for the stuck-run tests: runs a client started an hour ago
with nothing serving the database since."""

from __future__ import annotations

import time
from collections.abc import Callable

from rtspec import exit_, out, sleep, spec, task, wait

from wfc.runtime import Engine

HOUR = 3600.0


def _hour_ago() -> Callable[[], float]:
    return lambda: time.time() - HOUR


async def started_an_hour_ago(url: str) -> None:
    """Runs a client started an hour ago, with nothing serving them since:
    ``orphan`` dispatched a task nobody serves, ``napper`` slept a minute,
    ``patient`` waits for an event, ``dreamer`` sleeps two hours."""
    async with Engine.open(url, serve=False, check_tasks=False, clock=_hour_ago()) as client:
        for s in (
            spec("orphaned", [("charge", task("nobody-serves")), ("end", exit_(out("charge")))]),
            spec("napping", [("nap", sleep(60)), ("end", exit_("awake"))]),
            spec("patient", [("hear", wait("approved")), ("end", exit_("heard"))]),
            spec("dreaming", [("nap", sleep(2 * HOUR)), ("end", exit_("awake"))]),
        ):
            await client.deploy(s)
        await client.start("orphaned", run_id="orphan")
        await client.start("napping", run_id="napper")
        await client.start("patient", run_id="patient")
        await client.start("dreaming", run_id="dreamer")
