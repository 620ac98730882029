"""The CLI on a disk that fills up for real: the database, or a file a
command writes, on a tiny tmpfs filled with a filler file, then freed.

A full disk is an environment problem: a clear message that says the disk
is full and what to do, exit code 1, no traceback, nothing stored lost or
damaged, and no output file left half-written; what only reads still reads;
once space is back the same command works. Mounting needs root: elsewhere
these tests skip.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import no_traceback, sqlite_url, wfc_process
from tinydisk import TinyDisk, mount_tiny_disk

#: A workflow whose one task returns at once.
QUICK = """\
from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("step")
def step(n: int) -> dict:
    return {"n": n + 1, "pad": "p" * 500}


def quick(wf: WorkflowThread) -> None:
    n = wf.declare_int("n").default(1)
    wf.execute("step", n, retries=0)


quick_wf = Workflow("quick", quick)
"""


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """A 1 MiB tmpfs."""
    yield from mount_tiny_disk(tmp_path / "disk", "1m")


def integrity(path: Path) -> list[tuple[str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall()


def statuses(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT id, status FROM runs").fetchall())


def test_reading_commands_work_on_a_full_disk_and_writing_ones_say_it_is_full(tmp_path: Path, disk: TinyDisk) -> None:
    (tmp_path / "quick.py").write_text(QUICK)
    path = disk.root / "wfc.db"
    url = sqlite_url(path)
    assert wfc_process(tmp_path, "run", "quick.py", "--db", url, "--run-id", "q-1").returncode == 0
    disk.fill()
    # Reading takes no room: the first reader's -shm file, which a full disk
    # refused, is done without.
    for args in (("runs", "list"), ("runs", "list", "--json"), ("runs", "show", "q-1"), ("runs", "history", "q-1")):
        read = wfc_process(tmp_path, *args, "--db", url)
        assert read.returncode == 0, (args, read.stderr)
        assert "q-1" in read.stdout and read.stderr == "", args
    # Commands that write say the disk is full (SQLite calls it an I/O error
    # of the -shm file), not that the disk is failing.
    for args in (("run", "quick.py", "--run-id", "q-2"), ("worker", "--tasks", "quick.py")):
        failed = wfc_process(tmp_path, *args, "--db", url)
        assert failed.returncode == 1, (args, failed.stdout, failed.stderr)
        assert "the disk is full" in failed.stderr and "free space on the disk" in failed.stderr, failed.stderr
        assert "I/O error; check the disk" not in failed.stderr and no_traceback(failed), failed.stderr
    disk.free()
    assert wfc_process(tmp_path, "run", "quick.py", "--db", url, "--run-id", "q-2").returncode == 0
    assert statuses(path) == {"q-1": "COMPLETED", "q-2": "COMPLETED"}
    assert integrity(path) == [("ok",)]


def test_a_commit_a_full_disk_refuses_says_what_to_do_in_the_words_of_the_cli(tmp_path: Path, disk: TinyDisk) -> None:
    (tmp_path / "quick.py").write_text(QUICK)
    path = disk.root / "wfc.db"
    url = sqlite_url(path)
    assert wfc_process(tmp_path, "run", "quick.py", "--db", url, "--run-id", "q-1").returncode == 0
    # Another reader keeps the -wal and -shm files sized: wfc opens the file
    # without room, and it is the first commit that meets the full disk.
    holder = sqlite3.connect(path)
    try:
        holder.execute("SELECT count(*) FROM runs").fetchone()
        disk.fill()
        refused = wfc_process(tmp_path, "run", "quick.py", "--db", url, "--run-id", "d-1", "--detach")
        assert refused.returncode == 1, refused.stdout
        assert "could not commit" in refused.stderr and "the disk is full" in refused.stderr, refused.stderr
        # The advice of the Python API (start() with the same run_id), in the CLI's words.
        assert "run the command again once that is fixed" in refused.stderr and "--run-id" in refused.stderr
        assert "start()" not in refused.stderr and no_traceback(refused)
        disk.free()
        started = wfc_process(tmp_path, "run", "quick.py", "--db", url, "--run-id", "d-1", "--detach")
        assert started.returncode == 0, started.stderr
    finally:
        holder.close()
    assert statuses(path) == {"q-1": "COMPLETED", "d-1": "RUNNING"}
    assert integrity(path) == [("ok",)]


def test_files_written_on_a_full_disk_are_named_and_never_left_half_written(tmp_path: Path, disk: TinyDisk) -> None:
    (tmp_path / "quick.py").write_text(QUICK)
    url = sqlite_url(tmp_path / "wfc.db")  # the database has room: the files written do not
    assert wfc_process(tmp_path, "run", "quick.py", "--db", url, "--run-id", "q-1").returncode == 0
    exported = disk.root / "export.jsonl"
    exported.write_text("the export of yesterday\n")
    specs = disk.root / "specs"
    specs.mkdir()
    disk.fill()
    export = wfc_process(tmp_path, "runs", "export", "-o", str(exported), "--db", url)
    assert export.returncode == 1
    assert "export.jsonl: no space is left on the disk" in export.stderr, export.stderr
    assert "free space on the disk that holds it, then run the command again" in export.stderr
    compiled = wfc_process(tmp_path, "compile", "quick.py", "-o", str(specs))
    assert compiled.returncode == 1
    assert "quick.json: no space is left on the disk" in compiled.stderr, compiled.stderr
    assert no_traceback(export) and no_traceback(compiled)
    # The old file as it was, no new one, and no temporary file left beside them.
    assert exported.read_text() == "the export of yesterday\n"
    assert sorted(p.name for p in disk.root.iterdir()) == ["export.jsonl", "filler", "specs"]
    assert list(specs.iterdir()) == []
    disk.free()
    assert wfc_process(tmp_path, "runs", "export", "-o", str(exported), "--db", url).returncode == 0
    assert [json.loads(line)["run"]["id"] for line in exported.read_text().splitlines()] == ["q-1"]
    assert wfc_process(tmp_path, "compile", "quick.py", "-o", str(specs)).returncode == 0
    assert [p.name for p in specs.iterdir()] == ["quick.json"]
