"""The real ``wfc`` process where standard output cannot encode what a run
holds (``PYTHONIOENCODING=ascii`` or ``latin-1``, the C locale without UTF-8
mode): text degrades to escapes, ``--json`` stays JSON that reads back to the
same values, and an argument the locale cannot decode is named as the
locale's doing. Never an internal error or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import EXAMPLES, PAYMENT, WFC, script_env, sqlite_url

RUN_ID = "run-é名前🎉"
PAYMENT_ID = "pé名前🎉"

#: Where standard output is UTF-8 but the command line is read as UTF-8.
ASCII_OUT = {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "ascii"}
LATIN1_OUT = {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "latin-1"}
#: The C locale, with Python's UTF-8 mode turned off: ASCII everywhere, and
#: the streams (and the command line) use ``surrogateescape``.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}


def _wfc(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(WFC), *args], cwd=cwd, env=script_env(env), capture_output=True, timeout=60)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _clean(done: subprocess.CompletedProcess[bytes]) -> None:
    output = _text(done.stdout) + _text(done.stderr)
    assert "Traceback" not in output
    assert "internal error" not in output, output


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A database with one completed run whose id and inputs are not ASCII."""
    folder = tmp_path_factory.mktemp("encodings")
    url = sqlite_url(folder / "runs.db")
    done = _wfc(folder, "run", *PAYMENT, "-i", f"payment-id={PAYMENT_ID}", "--db", url, "--run-id", RUN_ID, env={})
    assert done.returncode == 0, _text(done.stderr)
    return folder, url


def _ids(document: object) -> list[str]:
    assert isinstance(document, list)
    return [row["id"] for row in document]


@pytest.mark.parametrize("env", [ASCII_OUT, LATIN1_OUT, C_LOCALE], ids=["ascii", "latin-1", "C-locale"])
def test_runs_list_json_stays_json_and_keeps_the_id(database: tuple[Path, str], env: dict[str, str]) -> None:
    folder, url = database
    done = _wfc(folder, "runs", "list", "--db", url, "--json", env=env)
    _clean(done)
    assert done.returncode == 0
    assert done.stdout.isascii()  # escapes, never bytes the stream's encoding lacks
    assert RUN_ID in _ids(json.loads(done.stdout))


@pytest.mark.parametrize("env", [ASCII_OUT, LATIN1_OUT], ids=["ascii", "latin-1"])
@pytest.mark.parametrize("command", ["show", "history"])
def test_a_run_s_json_documents_read_back_to_its_values(
    database: tuple[Path, str], env: dict[str, str], command: str
) -> None:
    folder, url = database
    done = _wfc(folder, "runs", command, RUN_ID, "--db", url, "--json", env=env)
    _clean(done)
    assert done.returncode == 0
    document = json.loads(done.stdout)
    assert PAYMENT_ID in json.dumps(document, ensure_ascii=False)  # the value itself, not an escape of it


@pytest.mark.parametrize("env", [ASCII_OUT, C_LOCALE], ids=["ascii", "C-locale"])
def test_the_export_stream_is_json_lines(database: tuple[Path, str], env: dict[str, str]) -> None:
    folder, url = database
    done = _wfc(folder, "runs", "export", "--db", url, env=env)
    _clean(done)
    assert done.returncode == 0
    exported = [json.loads(line) for line in done.stdout.splitlines()]
    assert [entry["run"]["id"] for entry in exported] == [RUN_ID]


def test_the_c_locale_without_utf8_mode_prints_escapes(database: tuple[Path, str]) -> None:
    folder, url = database
    done = _wfc(folder, "runs", "list", "--db", url, env=C_LOCALE)
    _clean(done)
    assert done.returncode == 0
    assert b"run-\\xe9\\u540d\\u524d\\U0001f389" in done.stdout


def test_an_argument_the_c_locale_cannot_read_is_blamed_on_the_locale(database: tuple[Path, str]) -> None:
    """``é`` typed in a UTF-8 terminal reaches Python as undecodable bytes
    in the C locale without UTF-8 mode: no run id can hold them, and the
    message says why and what to do, where it only said "send valid
    Unicode text", which the user had done."""
    folder, url = database
    done = _wfc(folder, "runs", "show", RUN_ID, "--db", url, env=C_LOCALE)
    _clean(done)
    assert done.returncode == 1
    error = _text(done.stderr)
    assert "locale" in error and "LC_ALL=C.UTF-8" in error and "PYTHONUTF8=1" in error, error
    # ... and in a UTF-8 locale the same command finds the run.
    assert _wfc(folder, "runs", "show", RUN_ID, "--db", url, env={"LC_ALL": "C.UTF-8"}).returncode == 0


def test_a_database_named_beyond_ascii_is_read_in_the_c_locale(tmp_path: Path) -> None:
    """The C locale without UTF-8 mode reads the name ``é.db`` as bytes it
    cannot decode; opened read-only, that name goes into a SQLite URI, as
    the bytes the file system has (quoting it as UTF-8 failed)."""
    made = _wfc(tmp_path, "run", *PAYMENT, "-i", f"payment-id={PAYMENT_ID}", "--db", "é.db", "--run-id", "r-1", env={})
    assert made.returncode == 0, _text(made.stderr)
    listed = _wfc(tmp_path, "runs", "list", "--db", "é.db", "--json", env=C_LOCALE)
    _clean(listed)
    assert listed.returncode == 0, _text(listed.stderr)
    assert _ids(json.loads(listed.stdout)) == ["r-1"]


def test_workflow_and_task_files_named_beyond_ascii_load_in_the_c_locale(tmp_path: Path) -> None:
    """In the C locale without UTF-8 mode ``café.py`` reaches Python as
    bytes it cannot decode. The module name made from its path hashed
    those as UTF-8 text, and `compile` and `run` ended in an internal error."""
    folder = tmp_path / "café"
    folder.mkdir()
    for name in ("payment.py", "payment_tasks.py"):
        (folder / name.replace("payment", "paiement-é")).write_bytes((EXAMPLES / name).read_bytes())
    compiled = _wfc(folder, "compile", "paiement-é.py", "-o", "specs", env=C_LOCALE)
    _clean(compiled)
    assert compiled.returncode == 0, _text(compiled.stderr)
    assert (folder / "specs" / "payment.json").is_file()
    inputs = ["-i", "payment-id=p-1", "-i", "customer-email=a@b.c", "-i", "amount=1", "-i", "card-token=t"]
    tasks = ["--tasks", "paiement-é_tasks.py"]
    ran = _wfc(folder, "run", "paiement-é.py", *tasks, *inputs, "--run-id", "r-1", env=C_LOCALE)
    _clean(ran)
    assert ran.returncode == 0, _text(ran.stderr)
    assert "COMPLETED" in _text(ran.stdout)
