"""Everything the CLI prints is true: a run nobody executes is not "running",
pipes get whole lines, ``| head`` keeps the run's exit code, a stuck sync task
does not keep ``wfc run`` alive, events nobody waits for are refused, input
errors come all at once, and the ``--db`` help shows ``wfc[postgres]``."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import WFC, Invoke, make_invoke, no_traceback, read_run, script_env, sqlite_url, write_approval

from wfc.runtime import RunStatus

#: A workflow with a long name whose only task sleeps a little (so that a
#: reader of its output can go away first) and returns a long string.
SLOW = """\
import time

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("nap")
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "z" * 150


def slow(wf: WorkflowThread) -> None:
    seconds = wf.declare_float("seconds").default(0.5)
    wf.execute("nap", seconds, retries=0)


slow_wf = Workflow("a-workflow-whose-name-is-much-longer-than-anyone-would-expect-it-to-be", slow)
"""

#: A sync task that overruns its one-second timeout by a minute.
STUCK = """\
import time

from wfc.dsl import Workflow, WorkflowThread
from wfc.runtime import task


@task("stuck", timeout=1)
def stuck() -> None:
    time.sleep(60)


def hangs(wf: WorkflowThread) -> None:
    wf.execute("stuck", retries=0, timeout=1)


hangs_wf = Workflow("hangs", hangs)
"""

LONG_ID = "run-" + "x" * 140


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "runs.db")


def pipe_env() -> dict[str, str]:
    """The console script's environment without ``$COLUMNS``: what a pipe in a
    real shell sees."""
    env = script_env()
    env.pop("COLUMNS", None)
    return env


def wfc_piped(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WFC), *args], cwd=cwd, env=pipe_env(), capture_output=True, text=True, timeout=timeout)


def add_engine(db: Path, pid: int, heartbeat_age: float = 0.0) -> None:
    """Register an engine row as a serving engine on this host would."""
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
            (f"engine-{pid}-{heartbeat_age}", socket.gethostname(), pid, now, now - heartbeat_age),
        )


# ---------------------------------------------------------------- waiting for an engine


def test_a_detached_run_is_shown_waiting_for_an_engine(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    detached = wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--detach")
    assert detached.exit_code == 0, detached.output
    assert "No engine serves this database now: it waits for one." in detached.stderr
    listed = wfc("runs", "list", "--db", url)
    assert "WAITING FOR ENGINE" in listed.stdout and "RUNNING" not in listed.stdout
    assert "waiting for an engine (no step since " in listed.stdout
    shown = wfc("runs", "show", "ap-1", "--db", url)
    assert re.search(r"^status +WAITING FOR ENGINE", shown.stdout, re.MULTILINE)
    assert "waiting for an engine (no step since " in shown.stdout
    assert "no live engine serves this database" in shown.stdout
    assert read_run(url, "ap-1").status is RunStatus.RUNNING  # the stored status is unchanged


def test_a_task_of_a_run_no_engine_serves_is_not_called_running(wfc: Invoke, tmp_path: Path, url: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    assert wfc("run", "slow.py", "--db", url, "--run-id", "s-1", "--detach").exit_code == 0
    shown = wfc("runs", "show", "s-1", "--db", url)
    assert "task 'nap' (attempt 1, to be run by an engine)" in shown.stdout
    assert ", running)" not in shown.stdout
    cancelled = wfc("runs", "cancel", "s-1", "--db", url)
    assert cancelled.exit_code == 0, cancelled.output
    assert "it was main@nap: task 'nap' (attempt 1, to be run by an engine)" in " ".join(cancelled.stdout.split())


def test_a_live_engine_makes_it_running_and_a_dead_one_does_not(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--detach")
    db = tmp_path / "runs.db"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    add_engine(db, int(dead.stdout))  # its process is gone
    add_engine(db, os.getpid(), heartbeat_age=3600)  # alive, but silent for an hour
    assert "WAITING FOR ENGINE" in wfc("runs", "list", "--db", url).stdout
    add_engine(db, os.getpid())  # alive, with a fresh heartbeat
    listed = wfc("runs", "list", "--db", url)
    assert "RUNNING" in listed.stdout and "WAITING FOR ENGINE" not in listed.stdout
    assert re.search(r"^status +RUNNING", wfc("runs", "show", "ap-1", "--db", url).stdout, re.MULTILINE)


def test_following_a_waiting_run_says_it_was_waiting(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--detach")
    followed = wfc("run", "approval.py", "--db", url, "--run-id", "ap-1", "--timeout", "0.2")
    assert "it was waiting for an engine (no step since " in followed.stdout
    assert "this process serves it now" in followed.stdout
    assert "no other engine serves this database, so once this process exits the run waits for one" in (followed.stderr)


# ---------------------------------------------------------------- pipes


def test_a_pipe_gets_whole_lines(tmp_path: Path, url: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    ran = wfc_piped(tmp_path, "run", "slow.py", "-i", "seconds=0", "--db", url, "--run-id", LONG_ID)
    assert ran.returncode == 0, ran.stderr
    assert f"run {LONG_ID} (a-workflow-whose-name-is-much-longer-than-anyone-would-expect-it-to-be 1.0)" in (ran.stdout)
    listed = wfc_piped(tmp_path, "runs", "list", "--db", url)
    [row] = [line for line in listed.stdout.splitlines() if LONG_ID in line]
    assert "a-workflow-whose-name-is-much-longer-than-anyone-would-expect-it-to-be" in row
    assert "COMPLETED" in row
    history = wfc_piped(tmp_path, "runs", "history", LONG_ID, "--db", url)
    assert '"' + "z" * 150 + '"' in history.stdout  # the full task output, on one line
    shown = wfc_piped(tmp_path, "runs", "show", LONG_ID, "--db", url)
    assert f"run {LONG_ID}\n" in shown.stdout


def test_a_width_of_zero_columns_still_prints_the_table(tmp_path: Path, url: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    assert wfc_piped(tmp_path, "run", "slow.py", "-i", "seconds=0", "--db", url, "--run-id", "w-1").returncode == 0
    for columns in ("0", "3"):
        listed = subprocess.run(
            [str(WFC), "runs", "list", "--db", url], cwd=tmp_path, env={**pipe_env(), "COLUMNS": columns},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        [row] = [line for line in listed.stdout.splitlines() if "a-workflow" in line]  # cut, but there
        assert len(row.strip()) >= 30, f"COLUMNS={columns}: {listed.stdout!r}"


def test_the_commands_hints_show_paste_into_a_shell(tmp_path: Path) -> None:
    """A run id and a database path with a space and a ``$`` in them: the
    hint's command, pasted into bash, reads that run of that database."""
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "my dbs").mkdir()
    url = sqlite_url(tmp_path / "my dbs" / "a $b.db")
    ran = wfc_piped(tmp_path, "run", "slow.py", "-i", "seconds=0", "--db", url, "--run-id", "order $7")
    assert ran.returncode == 0, ran.stderr
    [hint] = [line.removeprefix("full journal: ") for line in ran.stdout.splitlines() if "full journal" in line]
    assert hint.startswith("wfc runs history 'order $7' --db ")
    pasted = subprocess.run(
        ["bash", "-c", f"{WFC} {hint.removeprefix('wfc ')}"], cwd=tmp_path, env=pipe_env(),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pasted.returncode == 0, pasted.stderr
    assert "RUN_COMPLETED" in pasted.stdout


def test_an_output_encoding_without_a_character_escapes_it(tmp_path: Path, url: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    assert wfc_piped(tmp_path, "run", "slow.py", "-i", "seconds=0", "--db", url, "--run-id", "rün-1").returncode == 0
    listed = subprocess.run(
        [str(WFC), "runs", "list", "--db", url], cwd=tmp_path, env={**pipe_env(), "PYTHONIOENCODING": "ascii"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "r\\xfcn-1" in listed.stdout and "COMPLETED" in listed.stdout


def test_sigterm_stops_wfc_run_as_ctrl_c_does(tmp_path: Path, url: str) -> None:
    """``timeout``, systemd and ``docker stop`` send SIGTERM: the run is left
    durable and said so, and the engine unregisters."""
    (tmp_path / "slow.py").write_text(SLOW)
    command = [str(WFC), "run", "slow.py", "-i", "seconds=30", "--db", url, "--run-id", "t-1"]
    process = subprocess.Popen(command, cwd=tmp_path, env=pipe_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().startswith("started run t-1 ")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted: stopped following run t-1. The run is durable" in stderr
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT count(*) FROM engines").fetchone() == (0,)
    assert read_run(url, "t-1").status is RunStatus.RUNNING


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device that is always full")
def test_an_output_that_cannot_be_written_is_named_and_the_run_is_found(tmp_path: Path, url: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)

    def to_full(*args: str) -> subprocess.CompletedProcess[str]:
        with open("/dev/full", "w") as full:
            return subprocess.run(
                [str(WFC), *args], cwd=tmp_path, env=pipe_env(), stdout=full, stderr=subprocess.PIPE, text=True,
                timeout=60,
            )  # fmt: skip

    ran = to_full("run", "slow.py", "-i", "seconds=5", "--db", url, "--run-id", "f-1")
    assert ran.returncode == 1
    assert "cannot write to standard output: No space left on device: stopped following run f-1. The run" in (
        ran.stderr
    )
    for args in (("run", "slow.py", "--db", url, "--run-id", "f-2", "--detach"), ("runs", "list", "--db", url),
                 ("runs", "list", "--json", "--db", url)):  # fmt: skip
        failed = to_full(*args)
        assert failed.returncode == 1
        assert "error: cannot write to standard output: No space left on device" in failed.stderr, args
        assert "f-2" in failed.stderr or args[0] != "run"
    assert {read_run(url, run_id).status for run_id in ("f-1", "f-2")} == {RunStatus.RUNNING}


def test_run_piped_into_head_exits_with_the_run_code_and_no_noise(tmp_path: Path, url: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    script = (
        f"set -o pipefail; {WFC} run slow.py -i seconds=0.5 --db {url} --run-id r-1 | head -n 1; "
        f'echo "codes ${{PIPESTATUS[*]}}"'
    )
    shell = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=pipe_env(), capture_output=True, text=True, timeout=60
    )
    lines = shell.stdout.splitlines()
    assert lines[0].startswith("started run r-1 ")
    assert lines[-1] == "codes 0 0"  # wfc's own code: the run COMPLETED
    assert shell.stderr == ""  # no broken-pipe error, no "Exception ignored"
    assert read_run(url, "r-1").status is RunStatus.COMPLETED


# ---------------------------------------------------------------- stuck sync task


def test_a_stuck_sync_task_does_not_keep_wfc_run_alive(tmp_path: Path, url: str) -> None:
    (tmp_path / "stuck.py").write_text(STUCK)
    started = time.monotonic()
    ran = wfc_piped(tmp_path, "run", "stuck.py", "--db", url, "--run-id", "h-1", timeout=50)
    elapsed = time.monotonic() - started
    assert ran.returncode == 1, ran.stderr
    assert "run h-1 (hangs 1.0): FAILED" in ran.stdout
    assert "TIMEOUT" in ran.stdout
    assert elapsed < 20, f"wfc run took {elapsed:.1f}s after its run failed"
    assert no_traceback(ran)


# ---------------------------------------------------------------- events


def test_an_event_the_workflow_never_waits_for_is_refused(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--detach")
    sent = wfc("event", "send", "aproval", '{"ok": true}', "--run", "ap-1", "--db", url)
    assert sent.exit_code == 1
    assert "cannot send event 'aproval' to run 'ap-1': workflow 'approval' never waits for an event" in sent.stderr
    assert "it waits for: 'approval'" in sent.stderr
    assert not read_run(url, "ap-1").pending_events  # nothing was stored in its inbox


# ---------------------------------------------------------------- inputs


def test_input_errors_come_all_at_once(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    result = wfc("run", "approval.py", "-i", "count=many", "-i", "rush=perhaps", "--db", url)
    assert result.exit_code == 1
    assert "--input count='many': variable 'count' is declared int" in result.stderr
    assert "--input rush='perhaps': variable 'rush' is declared bool" in result.stderr
    assert "--input order-id: required str input is missing" in result.stderr


def test_a_bad_value_is_not_also_reported_missing(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    result = wfc("run", "approval.py", "-i", "count=many", "--db", url)
    assert "order-id: required str input is missing" in result.stderr
    result = wfc("run", "approval.py", "-i", "order-id=o", "-i", "count=many", "--db", url)
    assert "missing" not in result.stderr


# ---------------------------------------------------------------- help


def test_db_help_shows_the_postgres_extra(wfc: Invoke) -> None:
    for command in (["run"], ["runs", "list"], ["event", "send"]):
        result = wfc(*command, "--help")
        assert "pip install 'wfc[postgres]'" in result.stdout, command


def test_run_conflict_exits_3_and_names_the_inputs(wfc: Invoke, tmp_path: Path, url: str) -> None:
    write_approval(tmp_path)
    wfc("run", "approval.py", "-i", "order-id=o-1", "--db", url, "--run-id", "ap-1", "--detach")
    same = wfc("run", "approval.py", "-i", "order-id=o-1", "-i", "count=1", "--db", url, "--run-id", "ap-1", "--detach")
    assert same.exit_code == 0 and same.stdout == "ap-1\n"  # count=1 is its default: the same start
    other = wfc(
        "run",
        "approval.py",
        "-i",
        "order-id=o-2",
        "-i",
        "secret=zq-secret-9",
        "--db",
        url,
        "--run-id",
        "ap-1",
        "--detach",
    )
    assert other.exit_code == 3
    assert "these differ: 'order-id', 'secret' (masked)" in other.stderr
    assert "zq-secret-9" not in other.stderr + other.stdout
    assert "wfc runs show ap-1" in other.stderr
