"""Bad input to the command line gets a message in the user's terms (JSON
kinds, option names; never a Python type name or repr) and a non-zero exit
code: 1 for bad input, 2 for a usage error."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from wfc.cli.errors import CliError
from wfc.cli.task_fields import parse_fields
from wfc.specs import FieldDef, FormDef
from wfc.specs.limits import json_kind

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WFC = Path(sys.executable).with_name("wfc")
Invoke = Callable[..., Result]
_PYTHON_WORDS = ("NoneType", "None", "list", "int", "internal error", "Traceback")


@pytest.mark.parametrize(("text", "kind"), [("null", "null"), ("[1]", "an array"), ("5", "a number"),
                                            ('"x"', "a string"), ("true", "a boolean")])  # fmt: skip
def test_input_json_that_is_no_object_is_named_as_json_names_it(invoke: Invoke, tmp_path: Path, text: str,
                                                                kind: str) -> None:  # fmt: skip
    (tmp_path / "inputs.json").write_text(text)
    result = invoke("run", str(EXAMPLES / "payment.py"), "--tasks", str(EXAMPLES / "payment_tasks.py"),
                    "--input-json", "inputs.json", "--db", str(tmp_path / "wfc.db"))  # fmt: skip
    assert result.exit_code == 1
    assert "expected a JSON object of input name to value" in result.output
    assert f"not {kind}\n" in result.output
    assert not any(word in result.output for word in _PYTHON_WORDS)


@pytest.mark.parametrize(("text", "kind"), [("null", "null"), ("[1]", "an array"), ("5", "a number")])
def test_values_that_are_no_object_are_named_as_json_names_them(text: str, kind: str) -> None:
    form = FormDef(name="review", fields=[FieldDef(name="approved", type="bool")])
    with pytest.raises(CliError) as caught:
        parse_fields(form, [], text)
    message = str(caught.value)
    assert message.endswith(f"expected a JSON object of field name to value, e.g. '{{\"approved\": true}}', "
                            f"not {kind}")  # fmt: skip
    assert not any(word in message for word in _PYTHON_WORDS)


def test_every_json_kind_has_a_name() -> None:
    kinds = [json_kind(value) for value in (None, False, 1, 1.5, "", [], {})]
    assert kinds == ["null", "a boolean", "a number", "a number", "a string", "an array", "an object"]


@pytest.mark.parametrize("option", ["--grace", "--lease", "--poll", "--stats-every"])
@pytest.mark.parametrize("value", ["inf", "1e400", "1e12"])
def test_a_worker_time_that_no_timer_can_wait_is_a_usage_error(invoke: Invoke, tmp_path: Path, option: str,
                                                               value: str) -> None:  # fmt: skip
    result = invoke("worker", "--tasks", str(EXAMPLES / "payment_tasks.py"), "--db", str(tmp_path / "w.db"),
                    f"{option}={value}")  # fmt: skip
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert "a duration" in result.output and "seconds" in result.output
    assert "infs" not in result.output and "internal error" not in result.output


@pytest.mark.parametrize("value", ["nan", "-1"])
def test_a_worker_grace_that_is_no_number_of_seconds_is_a_usage_error(invoke: Invoke, tmp_path: Path,
                                                                     value: str) -> None:  # fmt: skip
    result = invoke("worker", "--tasks", str(EXAMPLES / "payment_tasks.py"), "--db", str(tmp_path / "w.db"),
                    f"--grace={value}")  # fmt: skip
    assert result.exit_code == 2
    assert "Invalid value for '--grace'" in result.output


@pytest.mark.parametrize("folder", ["", "  "])
def test_an_empty_compile_output_is_a_usage_error(invoke: Invoke, tmp_path: Path, folder: str) -> None:
    result = invoke("compile", str(EXAMPLES / "payment.py"), "-o", folder)
    assert result.exit_code == 2
    assert "Invalid value for '--output'" in result.output and "is empty" in result.output
    assert not (tmp_path / "payment.json").exists()


def _cut_short(cwd: Path, *args: str, lines: int = 1) -> tuple[int, str]:
    """Run ``wfc args`` with a reader of its stdout that takes ``lines``
    line (one or none) and goes away (``wfc ... | head -1``): the exit code
    and stderr."""
    process = subprocess.Popen([str(WFC), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    if lines:
        process.stdout.readline()
    process.stdout.close()
    errors = process.stderr.read().decode()
    process.stderr.close()
    return process.wait(timeout=60), errors


@pytest.mark.parametrize("args", [("--help",), ("runs", "export", "--help"), ("runs", "list", "--help")])
def test_help_cut_short_by_its_reader_ends_quietly(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, errors = _cut_short(tmp_path, *args, lines=1)
    assert (code, errors) == (1, "")


def _finished_runs(path: Path, count: int) -> None:
    """``count`` cancelled runs of the payment example on the SQLite file ``path``."""
    import runpy

    import anyio

    from wfc.runtime import Engine

    spec = runpy.run_path(str(EXAMPLES / "payment.py"))["payment_wf"].compile()
    inputs = {"payment-id": "p-1", "customer-email": "ana@example.com", "amount": 1.5, "card-token": "tok"}

    async def record() -> None:
        async with Engine.open(f"sqlite:///{path}", serve=False) as engine:
            await engine.deploy(spec)
            for number in range(count):
                await engine.cancel(await engine.start("payment", inputs, run_id=f"payment-{number:04d}"))

    anyio.run(record)


def test_an_export_cut_short_by_its_reader_ends_quietly_with_exit_code_1(tmp_path: Path) -> None:
    _finished_runs(tmp_path / "r.db", 300)  # more than a pipe holds
    code, errors = _cut_short(tmp_path, "runs", "export", "--db", str(tmp_path / "r.db"))
    assert (code, errors) == (1, "")


def test_a_list_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    _finished_runs(tmp_path / "r.db", 300)
    code, errors = _cut_short(tmp_path, "runs", "list", "-n", "300", "--db", str(tmp_path / "r.db"))
    assert errors == "" and code == 0  # the list is written through a console that silences a closed pipe


@pytest.mark.parametrize("as_json", [False, True])
def test_a_watch_whose_reader_went_away_ends_and_keeps_its_place(tmp_path: Path, as_json: bool) -> None:
    """``wfc runs watch | head -1`` ends once head has, rather than watch on
    for nobody; a consumer's place is not moved past what was not read."""
    _finished_runs(tmp_path / "r.db", 300)  # more entries than a pipe holds
    args = ["runs", "watch", "--from-start", "--consumer", "c-1", "--db", str(tmp_path / "r.db")]
    code, errors = _cut_short(tmp_path, *args, *(["--json"] if as_json else []))
    assert (code, errors) == (1, "")
    with sqlite3.connect(tmp_path / "r.db") as conn:
        [(position,)] = conn.execute("SELECT position FROM subscribers WHERE name = 'c-1'").fetchall()
        (entries,) = conn.execute("SELECT count(*) FROM journal").fetchone()
    assert int(position) < entries  # not every entry was taken as handled
