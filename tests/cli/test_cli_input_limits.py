"""wfc run --input/--input-json and wfc event send refuse values that
cannot be stored with a message naming the input, and no traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import Invoke, make_invoke, no_traceback, read_runs, sqlite_url, write_approval


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    write_approval(tmp_path)
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "runs.db")


def run(wfc: Invoke, url: str, *inputs: str) -> tuple[int, str]:
    result = wfc("run", "approval.py", "-i", "order-id=o-1", *inputs, "--db", url, "--timeout", "0.3")
    assert no_traceback(result)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ratio=nan", "variable 'ratio' is declared float, and NaN and infinities cannot be stored"),
        ("ratio=-inf", "variable 'ratio' is declared float, and NaN and infinities cannot be stored"),
        ("meta=[1, NaN]", "variable 'meta' is declared json, and '[1, NaN]' is not JSON (NaN is not JSON"),
        ("meta=" + "[" * 100_000, "is not JSON (nested too deeply (wfc takes at most 64 levels))"),
        ("count=99999999999999999999", "input 'count': an integer outside the signed 64-bit range"),
        ('meta={"a": "\\ud800"}', "input 'meta': at $.a: a string holds a lone UTF-16 surrogate"),
        ("meta=" + "[" * 70 + "]" * 70, "input 'meta': at $" + "[0]" * 64 + ": JSON nested deeper than 64"),
        ('meta=[{"a": 1, "a": 2}]', "is not JSON (an object gives key 'a' twice; give each key once)"),
    ],
)
def test_a_value_that_cannot_be_stored_is_refused_by_name(wfc: Invoke, url: str, given: str, expected: str) -> None:
    code, stderr = run(wfc, url, "-i", given)
    assert code == 1
    assert expected in " ".join(stderr.split())  # the message may wrap
    assert not Path(url.removeprefix("sqlite:///")).exists()  # refused before opening the database


def test_a_long_bad_value_is_quoted_cut_short(wfc: Invoke, url: str) -> None:
    code, stderr = run(wfc, url, "-i", "meta=" + "[" * 100_000)
    assert code == 1
    assert "… (100,000 characters)" in stderr
    assert len(stderr) < 1000  # not the value, twice


def test_input_json_with_nan_or_deep_nesting_is_refused(wfc: Invoke, url: str, tmp_path: Path) -> None:
    (tmp_path / "nan.json").write_text('{"ratio": NaN}')
    (tmp_path / "deep.json").write_text('{"meta": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (tmp_path / "big.json").write_text(json.dumps({"count": 2**64}))
    (tmp_path / "twice.json").write_text('{"order-id": "o-1", "order-id": "o-2"}')
    for name, expected in (("twice.json", "--input-json twice.json: not JSON: an object gives key 'order-id' twice"),
                           ("nan.json", "--input-json nan.json: not JSON: NaN is not JSON"),
                           ("deep.json", "--input-json deep.json: not JSON: nested too deeply"),
                           ("big.json", "input 'count': an integer outside the signed 64-bit range")):
        code, stderr = run(wfc, url, "--input-json", name)
        assert code == 1
        assert expected in " ".join(stderr.split())
    assert not Path(url.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize(
    ("payload", "code", "expected"),
    [
        ('{"ok": NaN}', 2, "not JSON (NaN is not JSON; give a finite number or null)"),
        ("[" * 100_000, 2, "not JSON (nested too deeply (wfc takes at most 64 levels))"),
        ('{"ok": 99999999999999999999}', 1,
         "the payload of event 'approval' is not JSON wfc can store ($.ok: an integer outside the signed 64-bit range"),
        ('{"ok": "\\udc00"}', 1,
         "the payload of event 'approval' is not JSON wfc can store ($.ok: a string holds a lone"),
        ('{"ok": true, "ok": false}', 2, "not JSON (an object gives key 'ok' twice; give each key once)"),
    ],
)
def test_event_send_refuses_payloads_that_cannot_be_stored(wfc: Invoke, url: str, payload: str, code: int,
                                                           expected: str) -> None:
    assert run(wfc, url)[0] == 1  # the run waits for its approval; following it timed out
    result = wfc("event", "send", "approval", payload, "--run", read_runs(url)[0].id, "--db", url)
    assert result.exit_code == code
    assert expected in " ".join(result.output.split())
    assert no_traceback(result)
    assert read_runs(url)[0].pending_events == ()
