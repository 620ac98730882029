"""The real ``wfc`` process in hostile file-system surroundings: a working
directory deleted under the shell, and a database path that can never be a
database file (a FIFO, a device, a loop of symbolic links, a link into a
folder that does not exist, a path through a file). Each is said for what it
is, with exit code 1 and what to do; nothing is created or written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import EXAMPLES, PAYMENT, WFC, paid_database, script_env, sqlite_url

GONE = "the current directory no longer exists"


def _wfc(
    cwd: Path, *args: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WFC), *args], cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=60,
        preexec_fn=preexec_fn,
    )  # fmt: skip


def _user_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert "None:" not in done.stderr, done.stderr  # the path of nothing
    for word in words:
        assert word in done.stderr, f"{word!r} not in: {done.stderr}"


# ---------------------------------------------------------------- a deleted working directory


@pytest.fixture
def in_deleted_directory(tmp_path: Path) -> Callable[[], None]:
    """What the child runs before ``wfc``: enter a directory, then delete it
    (as a shell left in a directory someone removed)."""
    doomed = tmp_path / "doomed"

    def enter_and_delete() -> None:
        doomed.mkdir()
        os.chdir(doomed)
        doomed.rmdir()

    return enter_and_delete


@pytest.fixture
def database(tmp_path: Path) -> str:
    return paid_database(tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "list"],  # the default database, wfc.db, is relative
        ["runs", "list", "--db", "runs.db"],
        ["run", "payment.py", "--db", "sqlite:////tmp/never-created-by-wfc-tests.db"],
        ["graph", "specs/payment.json"],
        ["runs", "export", "--db", "sqlite:////tmp/never-created-by-wfc-tests.db", "-o", "out.jsonl"],
    ],
    ids=["default-db", "relative-db", "relative-workflow", "relative-spec", "relative-output"],
)
def test_a_relative_path_in_a_deleted_directory_is_named_as_such(
    tmp_path: Path, in_deleted_directory: Callable[[], None], args: list[str]
) -> None:
    _user_error(_wfc(tmp_path, *args, preexec_fn=in_deleted_directory), GONE, "cd to an existing directory")
    assert not Path("/tmp/never-created-by-wfc-tests.db").exists()


def test_a_workflow_given_by_absolute_path_runs_in_a_deleted_directory(
    tmp_path: Path, in_deleted_directory: Callable[[], None], database: str
) -> None:
    """Absolute paths everywhere: the DSL names a workflow's source lines
    relative to the working directory where it can, and as they are where
    it is gone."""
    done = _wfc(tmp_path, "run", *PAYMENT, "-i", "payment-id=p-2", "--db", database, "--run-id", "pay-2",
                preexec_fn=in_deleted_directory)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = _wfc(tmp_path, "runs", "list", "--db", database, "--json")
    assert '"pay-2"' in listed.stdout and '"pay-1"' in listed.stdout
    # What needs no relative path works there as anywhere.
    assert _wfc(tmp_path, "--help", preexec_fn=in_deleted_directory).returncode == 0
    listed = _wfc(tmp_path, "runs", "list", "--db", database, preexec_fn=in_deleted_directory)
    assert listed.returncode == 0 and "pay-1" in listed.stdout, listed.stderr
    shown = _wfc(tmp_path, "runs", "show", "nothere", "--db", database, preexec_fn=in_deleted_directory)
    _user_error(shown, "no run with id 'nothere'")
    drawn = _wfc(tmp_path, "graph", str(EXAMPLES / "specs" / "payment.json"), preexec_fn=in_deleted_directory)
    assert drawn.returncode == 0, drawn.stderr


# ---------------------------------------------------------------- paths that cannot be a database


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.db"
    os.mkfifo(path)
    return path


def _loop(tmp_path: Path) -> Path:
    (tmp_path / "a.db").symlink_to(tmp_path / "b.db")
    (tmp_path / "b.db").symlink_to(tmp_path / "a.db")
    return tmp_path / "a.db"


def _dangling(tmp_path: Path) -> Path:
    (tmp_path / "link.db").symlink_to(tmp_path / "no-such-folder" / "runs.db")
    return tmp_path / "link.db"


def _through_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("not a folder")
    return tmp_path / "plain" / "runs.db"


CANNOT_BE_A_DATABASE: list[tuple[Callable[[Path], Path], list[str]]] = [
    (_fifo, ["named pipe (FIFO)", "give the path of a database file"]),
    (lambda _: Path(os.devnull), ["character device", "give the path of a database file"]),
    (_loop, ["symbolic link that leads back to itself", "fix the link"]),
    (_dangling, ["symbolic link to", "whose folder does not exist", "fix the link"]),
    (_through_a_file, ["a part of this path is a file, not a directory"]),
]


@pytest.mark.parametrize(("make", "words"), CANNOT_BE_A_DATABASE, ids=["fifo", "devnull", "loop", "dangling", "file"])
@pytest.mark.parametrize("command", ["read", "run", "server"])
def test_a_path_that_cannot_be_a_database_is_named_for_what_it_is(
    tmp_path: Path, make: Callable[[Path], Path], words: list[str], command: str
) -> None:
    path = make(tmp_path)
    url = sqlite_url(path)
    args = {
        "read": ["runs", "list", "--db", url],
        "run": ["run", *PAYMENT, "-i", "payment-id=p-1", "--db", url],
        "server": ["server", "--db", url, "--port", "0"],
    }[command]
    _user_error(_wfc(tmp_path, *args), *words)
    if path.name == "pipe.db":
        assert stat.S_ISFIFO(path.lstat().st_mode)  # left as it was
    assert not (tmp_path / "no-such-folder").exists()
    assert not any(name.endswith(("-wal", "-shm", "-journal")) for name in os.listdir(tmp_path))


@pytest.mark.parametrize("given", ["wfc.db", "./wfc.db", None], ids=["relative", "dot-relative", "default"])
def test_a_link_to_a_database_not_made_yet_is_followed(tmp_path: Path, given: str | None) -> None:
    """A relative link in the working directory to a file that does not
    exist yet (``ln -s wfc-real.db wfc.db``): SQLite creates the file it
    points to, as it always did."""
    (tmp_path / "wfc.db").symlink_to("wfc-real.db")
    db = [] if given is None else ["--db", given]
    done = _wfc(tmp_path, "run", *PAYMENT, "-i", "payment-id=p-1", *db, "--run-id", "pay-1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "wfc-real.db").is_file() and (tmp_path / "wfc.db").is_symlink()
