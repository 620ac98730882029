"""A run whose stored state cannot be read (written by a newer wfc, changed
by hand) is listed all the same, saying why, and refused by name where its
state is needed: it never hides the other runs or passes for a bug in wfc."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rtspec import exit_, spec, wait

from wfc.runtime import Engine, NewerRunStateError, UnreadableRunError
from wfc.runtime.errors import StoreError

pytestmark = pytest.mark.anyio

WAITS = spec("waits", [("w", wait("go")), ("end", exit_())])
WAITS_2 = spec("waits", [("w", wait("go")), ("end", exit_())], version=(2, 0))


async def _three_runs(url: str, path: Path) -> None:
    async with Engine.open(url) as engine:
        await engine.deploy(WAITS)
        for run_id in ("newer", "damaged", "fine"):
            await engine.start("waits", run_id=run_id)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET state_format = 99 WHERE id = 'newer'")
        conn.execute("UPDATE runs SET state = '{not json' WHERE id = 'damaged'")
        conn.execute("UPDATE journal SET detail = '[' WHERE run_id = 'fine' AND seq = 1")


async def test_a_listing_shows_every_run_and_why_some_cannot_be_read(sqlite_path: Path) -> None:
    url = f"sqlite:///{sqlite_path}"
    await _three_runs(url, sqlite_path)
    async with Engine.open(url, serve=False) as engine:
        runs = {run.id: run for run in await engine.list_runs(limit=None)}
        assert set(runs) == {"newer", "damaged", "fine"}
        assert runs["fine"].unreadable is None
        assert runs["newer"].unreadable == "stored by a newer wfc (run state format 99; this wfc reads up to 2)"
        assert runs["newer"].workflow == "waits" and runs["newer"].variables == {}
        assert runs["damaged"].unreadable is not None
        assert runs["damaged"].unreadable.startswith("its stored state is not what wfc writes (")
        with pytest.raises(NewerRunStateError):
            await engine.get_run("newer")
        with pytest.raises(StoreError, match="run 'damaged' cannot be read: its stored state is not what wfc"):
            await engine.get_run("damaged")
        with pytest.raises(StoreError, match="run 'fine' cannot be read: its journal entry 1 is not what wfc"):
            await engine.history("fine")
    async with Engine.open(url) as engine:
        await engine.deploy(WAITS_2)
        # A migration plan does not sort what it cannot read.
        with pytest.raises(StoreError, match=r"run 'damaged' cannot be read|run 'newer' was stored by a newer wfc"):
            await engine.plan_migration("waits", "1.0", "2.0")


async def test_runs_missing_their_thread_or_with_a_format_of_another_type_are_listed_and_refused_by_name(
    sqlite_path: Path,
) -> None:
    """SQLite keeps what a hand puts in a column: a run whose entrypoint
    thread row was deleted, a state format that is text, a journal time that
    is text. Each ended every listing, or the command, in a KeyError or a
    TypeError."""
    url = f"sqlite:///{sqlite_path}"
    async with Engine.open(url) as engine:
        await engine.deploy(WAITS)
        for run_id in ("threadless", "odd-format", "odd-time", "fine"):
            await engine.start("waits", run_id=run_id)
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("DELETE FROM run_threads WHERE run_id = 'threadless'")
        conn.execute("UPDATE runs SET state_format = 'x' WHERE id = 'odd-format'")
        conn.execute("UPDATE journal SET at = 'x' WHERE run_id = 'odd-time' AND seq = 1")
    async with Engine.open(url, serve=False) as engine:
        runs = {run.id: run for run in await engine.list_runs(limit=None)}
        assert set(runs) == {"threadless", "odd-format", "odd-time", "fine"}
        assert runs["fine"].unreadable is None and runs["odd-time"].unreadable is None
        assert runs["threadless"].unreadable == (
            "its stored state is not what wfc writes (the run has no entrypoint thread (thread 0)); it was "
            "changed outside wfc, or the file is damaged. Restore the database from a backup"
        )
        assert runs["odd-format"].unreadable is not None
        assert runs["odd-format"].unreadable.startswith("its state format is not what wfc writes ('x')")
        for run_id in ("threadless", "odd-format"):
            with pytest.raises(UnreadableRunError, match=f"run '{run_id}' cannot be read") as caught:
                await engine.get_run(run_id)
            assert caught.value.run_id == run_id
        with pytest.raises(UnreadableRunError, match="run 'odd-time' cannot be read: its journal entry 1"):
            await engine.history("odd-time")
        assert [entry.seq for entry in await engine.history("fine")][:1] == [1]
    async with Engine.open(url) as engine:
        for run_id in ("threadless", "odd-format"):
            with pytest.raises(UnreadableRunError, match=f"run '{run_id}' cannot be read"):
                await engine.cancel(run_id)
        await engine.cancel("fine")
        assert (await engine.get_run("fine")).status == "CANCELLED"
