"""What a command that writes a file (``wfc runs export -o``, ``wfc compile
-o``) does to what is already there: a regular file is replaced whole and
keeps its mode, a symbolic link keeps pointing at the replaced file, and a
device or a named pipe is written in place, never replaced by a file."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import Invoke, make_invoke, no_traceback, sqlite_url

from wfc.cli.files import replacing, write_atomic

FLOW = """\
from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("note")
def note(order_id: str) -> str:
    return order_id


def order(wf: WorkflowThread) -> None:
    wf.execute("note", wf.declare_str("order-id").required())


order_wf = Workflow("order", order)
"""


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(wfc: Invoke, tmp_path: Path) -> str:
    """A database with the finished run ``o-1``."""
    (tmp_path / "flow.py").write_text(FLOW)
    db = sqlite_url(tmp_path / "runs.db")
    started = wfc("run", "flow.py", "-i", "order-id=o-1", "--db", db, "--run-id", "o-1")
    assert started.exit_code == 0, started.output
    return db


def test_export_into_a_named_pipe_streams_into_it_and_leaves_the_pipe(wfc: Invoke, url: str, tmp_path: Path) -> None:
    pipe = tmp_path / "runs.fifo"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    exported = wfc("runs", "export", "--db", url, "-o", "runs.fifo")
    reader.join(timeout=10)
    assert exported.exit_code == 0, exported.output
    assert stat.S_ISFIFO(pipe.lstat().st_mode), "the named pipe was replaced by a regular file"
    assert [json.loads(line)["run"]["id"] for line in received[0].splitlines()] == ["o-1"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".runs.fifo")) == []


def test_export_through_a_symlink_replaces_the_file_it_points_to_with_its_mode(
    wfc: Invoke, url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive.jsonl"
    archive.write_text("old\n")
    archive.chmod(0o640)
    (tmp_path / "latest.jsonl").symlink_to("archive.jsonl")
    exported = wfc("runs", "export", "--db", url, "-o", "latest.jsonl")
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "latest.jsonl").is_symlink()
    assert [json.loads(line)["run"]["id"] for line in archive.read_text().splitlines()] == ["o-1"]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o640


def test_export_to_a_folder_or_a_missing_folder_is_a_clear_error(wfc: Invoke, url: str, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    into_folder = wfc("runs", "export", "--db", url, "-o", "out")
    assert into_folder.exit_code == 1
    assert "out is a directory; give the path of a file" in into_folder.output
    nowhere = wfc("runs", "export", "--db", url, "-o", "missing/runs.jsonl")
    assert nowhere.exit_code == 1
    assert "missing/runs.jsonl: no such file or directory" in nowhere.output
    assert no_traceback(into_folder)
    assert no_traceback(nowhere)


def test_a_device_is_written_in_place(tmp_path: Path) -> None:
    # A null device of its own (the real /dev/null was replaced with a file by this very bug, run as root).
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    write_atomic(null, b"discarded\n")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert null.lstat().st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "spec.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("the command failed midway")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]


def test_a_new_file_gets_the_usual_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.json", b"{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644


def test_a_path_through_dev_or_proc_is_written_in_place_and_appended_to(tmp_path: Path) -> None:
    # `wfc runs export -o /dev/stdout >> log`: /dev/stdout resolves to the log itself, which a rename would
    # have replaced (its earlier lines lost, and the shell's open file cut off).
    log = tmp_path / "log.txt"
    log.write_bytes(b"earlier\n")
    with log.open("ab") as shell_redirect:
        write_atomic(Path(f"/proc/self/fd/{shell_redirect.fileno()}"), b"exported\n")
    assert log.read_bytes() == b"earlier\nexported\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.txt"]
