"""The engine's reads live in one place, :class:`wfc.runtime._reader.Reader`:
an engine delegates to the reader it holds, and a reader opened over the
database alone (``open_reader``, what ``wfc runs list/show/history`` use)
answers exactly as the engine does, writes nothing, and needs neither the
engine's modules nor anyio's backend. Both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rtspec import exit_, out, spec, task, var, variable, wait

from wfc.runtime import Engine, RunStatus, TaskContext, UnknownRunError, UsageError
from wfc.runtime import task as wfc_task
from wfc.runtime._reader import Reader, open_reader

pytestmark = pytest.mark.anyio


@wfc_task("echo")
async def echo(value: Any, ctx: TaskContext) -> Any:
    return {"value": value, "attempt": ctx.attempt}


def echoing() -> Any:
    return spec(
        "echoing",
        [("e", task("echo", var("token"))), ("w", wait("go")), ("end", exit_(out("e")))],
        variables={"token": variable("str", required=True, masked=True), "note": variable("str")},
    )


async def _seed(url: str) -> list[str]:
    """Three runs: two finished (a masked input each), one waiting for an event."""
    async with Engine.open(url, tasks=[echo], poll_interval=0.05) as engine:
        await engine.deploy(echoing())
        ids = [await engine.start("echoing", {"token": f"tok-secret-{n}", "note": f"n{n}"}) for n in range(3)]
        for run_id in ids[:2]:
            await engine.send_event("go", {}, run_id=run_id)
            await engine.wait(run_id, timeout=30)
    return ids


async def test_a_reader_answers_as_the_engine_does(db_url: str) -> None:
    ids = await _seed(db_url)
    async with Engine.open(db_url, serve=False) as engine, open_reader(db_url) as reader:
        for run_id in ids:
            assert await reader.get_run(run_id) == await engine.get_run(run_id)
            assert await reader.history(run_id) == await engine.history(run_id)
            assert await reader.history(run_id, 2, 3, kinds=["NODE_ENTERED"]) == await engine.history(
                run_id, 2, 3, kinds=["NODE_ENTERED"]
            )
        everything = await reader.list_runs_page(limit=2)
        assert everything == await engine.list_runs_page(limit=2)
        assert everything.next is not None
        rest = await reader.list_runs_page(limit=2, after=everything.next)
        assert rest == await engine.list_runs_page(limit=2, after=everything.next)
        assert {r.id for r in everything.runs + rest.runs} == set(ids)
        waiting = await reader.list_runs_page(status="running")
        assert [r.id for r in waiting.runs] == [ids[2]] and waiting.runs == (await engine.list_runs_page(
            status="running"
        )).runs
        assert await reader.list_specs() == await engine.list_specs()
        assert (await reader.deployed("echoing", "1")).spec == await engine.get_spec("echoing", "1")
        assert await reader.serving_engines() == await engine.serving_engines() == 0
    finished = (await _one(db_url, ids[0])).redacted()
    assert finished.status is RunStatus.COMPLETED and finished.variables["token"] == "***"
    assert "tok-secret-0" not in json.dumps(finished.output)


async def _one(url: str, run_id: str) -> Any:
    async with open_reader(url) as reader:
        return await reader.get_run(run_id)


async def test_a_reader_refuses_what_the_engine_refuses(db_url: str) -> None:
    await _seed(db_url)
    async with open_reader(db_url) as reader:
        with pytest.raises(UnknownRunError):
            await reader.get_run("no-such-run")
        with pytest.raises(UnknownRunError):
            await reader.history("no-such-run")
        with pytest.raises(UsageError, match="unknown run status"):
            await reader.list_runs_page(status="sleeping")
        with pytest.raises(UsageError, match="version"):
            await reader.list_runs_page(version="one")
        with pytest.raises(UsageError, match="cannot be stored"):
            await reader.get_run("bad\x00id")


async def test_the_engine_reads_through_its_reader(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One implementation: every read of the engine's API lands in the Reader."""
    ids = await _seed(sqlite_url)
    called: list[str] = []
    for name in ("get_run", "list_runs_page", "history", "serving_engines", "list_specs", "deployed"):
        original = getattr(Reader, name)

        async def spy(self: Reader, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            called.append(_name)
            return await _original(self, *args, **kwargs)

        monkeypatch.setattr(Reader, name, spy)
    async with Engine.open(sqlite_url, serve=False) as engine:
        await engine.get_run(ids[0])
        await engine.list_runs(limit=1)
        await engine.history(ids[0])
        await engine.serving_engines()
        await engine.list_specs()
        await engine.get_spec("echoing")
    assert called == ["get_run", "list_runs_page", "history", "serving_engines", "list_specs", "deployed"]


async def test_a_reader_reads_a_read_only_file_and_writes_nothing(sqlite_path: Path, sqlite_url: str) -> None:
    ids = await _seed(sqlite_url)
    before = sqlite_path.read_bytes()
    sqlite_path.chmod(0o444)  # (root writes anyway: the bytes are what is checked)
    sqlite_path.parent.chmod(0o555)
    try:
        async with open_reader(sqlite_url) as reader:
            assert (await reader.get_run(ids[0])).status is RunStatus.COMPLETED
            assert len((await reader.list_runs_page()).runs) == 3
    finally:
        sqlite_path.parent.chmod(0o755)
        sqlite_path.chmod(0o644)
    assert sqlite_path.read_bytes() == before


_PROBE = """
import asyncio, json, sys
from wfc.runtime._reader import open_reader

async def read(url, run_id):
    async with open_reader(url) as reader:
        page = await reader.list_runs_page(limit=10)
        info = await reader.get_run(run_id)
        entries = await reader.history(run_id)
        return len(page.runs), info.status.value, len(entries) > 0

print(json.dumps([asyncio.run(read(sys.argv[1], sys.argv[2])), sorted(sys.modules)]))
"""

#: What an engine imports and a reader must not: the commit loop, task
#: attempts, the interpreter's transitions, anyio's backend.
ENGINE_ONLY = (
    "wfc.runtime._engine",
    "wfc.runtime._loop",
    "wfc.runtime._turn",
    "wfc.runtime._attempts",
    "wfc.runtime._tasks",
    "wfc.runtime._worker",
    "wfc.runtime.interpreter.transitions",
    "wfc.runtime.interpreter.walk",
    "anyio._backends",
)


async def test_a_reader_needs_none_of_the_engine(sqlite_url: str) -> None:
    ids = await _seed(sqlite_url)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, sqlite_url, ids[0]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    answer, modules = json.loads(done.stdout)
    assert answer == [3, "COMPLETED", True]
    assert "wfc.runtime.store.sqlite" in modules  # the probe did read the database
    assert [m for m in modules if any(m == e or m.startswith(e + ".") for e in ENGINE_ONLY)] == []


async def test_opening_a_reader_needs_a_wfc_database(tmp_path: Path) -> None:
    from wfc.runtime import StoreError

    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all, just some bytes" * 100)
    with pytest.raises(StoreError):
        async with open_reader(f"sqlite:///{other}"):
            pass
    assert other.read_bytes() == b"not a database at all, just some bytes" * 100
