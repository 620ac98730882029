"""Values past what datetime or the database can hold are usage errors
(exit 2) or bad input (exit 1) with a message that says what to give, never
an internal error: moments and durations of ``wfc runs list|purge|export``,
the integer options that reach the store, and mapping files of ``wfc
migrate plan`` that hold no JSON object."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import EXAMPLES, PAYMENT, Invoke, make_invoke, no_traceback, read_run, sqlite_url
from test_cli_migrate_apply import park

from wfc.runtime import RunStatus


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    return make_invoke(monkeypatch, tmp_path)


@pytest.fixture
def url(wfc: Invoke, tmp_path: Path) -> str:
    """A database with a completed payment run ``pay-1``."""
    url = sqlite_url(tmp_path / "runs.db")
    assert wfc("run", *PAYMENT, "-i", "payment-id=p-1", "--db", url, "--run-id", "pay-1").exit_code == 0
    return url


def shown(text: str) -> str:
    """Output with rich's box and wrapping taken out."""
    return " ".join(text.replace("│", " ").split())


def assert_usage_error(wfc: Invoke, args: list[str], *needles: str) -> None:
    result = wfc(*args)
    message = shown(result.output)
    assert result.exit_code == 2, (args, result.output)
    assert "internal error" not in message and no_traceback(result), (args, result.output)
    for needle in needles:
        assert needle in message, (args, message)


RANGE = "from 0001-01-01 to 9999-12-31 (UTC)"


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--since", "99999999999d", "'99999999999d' reaches back before 0001-01-01: give a shorter duration"),
        ("--before", "99999999999999999999s", "reaches back before 0001-01-01"),
        ("--since", "3000000d", "reaches back before 0001-01-01"),  # a timedelta holds it; a datetime does not
        (
            "--since",
            "0001-01-01T00:00:00+00:01",
            f"'0001-01-01T00:00:00+00:01' is out of range: give a date/time {RANGE}",
        ),
        ("--since", "0001-01-01T03:00:00+05:00", "is out of range"),
        ("--before", "9999-12-31T23:59:59-12:00", "is out of range"),
        ("--since", "9999-12-31T23:59:59-00:01", "is out of range"),
    ],
)
def test_runs_list_moments_out_of_range(wfc: Invoke, url: str, option: str, value: str, needle: str) -> None:
    assert_usage_error(wfc, ["runs", "list", "--db", url, option, value], f"Invalid value for {option}", needle)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+00:01", "99999999999d", "9999-12-31T23:59:59-12:00"])
@pytest.mark.parametrize("command", ["purge", "export"])
def test_purge_and_export_moments_out_of_range(wfc: Invoke, url: str, command: str, value: str) -> None:
    assert_usage_error(wfc, ["runs", command, "--finished-before", value, "--db", url], "--finished-before", RANGE)
    assert read_run(url, "pay-1").status is RunStatus.COMPLETED  # nothing purged


def test_moments_at_the_edges_of_the_range_are_taken(wfc: Invoke, url: str) -> None:
    # The engine's own range, to its ends: 9999-12-31 is the usual "no upper bound".
    edges = (["--since", "0001-01-01T00:00:00+00:00"], ["--before", "9999-12-31T23:59:59+00:00"], ["--since", "1000d"])
    for args in edges:
        result = wfc("runs", "list", "--db", url, *args)
        assert result.exit_code == 0, (args, result.output)


def test_a_duration_of_hundreds_of_digits_is_a_usage_error(wfc: Invoke, url: str) -> None:
    assert_usage_error(wfc, ["runs", "list", "--db", url, "--stuck", "9" * 400], "--stuck", "is too long a duration")


@pytest.mark.parametrize("limit", ["9223372036854775807", "9223372036854775808", "99999999999999999999"])
def test_a_limit_past_what_the_store_binds_means_all_runs(wfc: Invoke, url: str, limit: str) -> None:
    result = wfc("runs", "list", "-n", limit, "--db", url)
    assert result.exit_code == 0 and "pay-1" in result.output, result.output


def test_a_sample_past_what_the_store_binds_replays_every_run(wfc: Invoke, url: str) -> None:
    assert wfc("compile", str(EXAMPLES / "payment.py"), "-o", "specs").exit_code == 0
    result = wfc(
        "replay", "--spec", "specs/payment.json", "--sample", "99999999999999999999", "-w", "payment", "--db", url
    )
    assert "internal error" not in result.output and no_traceback(result), result.output
    assert "pay-1" in result.output, result.output


@pytest.mark.parametrize(
    ("content", "kind"),
    [("[1]", "an array"), ('"x"', "a string"), ("5", "a number"), ("null", "null"), ("true", "a boolean")],
)
def test_a_mapping_file_without_a_json_object_exits_1(wfc: Invoke, tmp_path: Path, content: str, kind: str) -> None:
    url = sqlite_url(tmp_path / "runs.db")
    park(url)
    (tmp_path / "mapping.json").write_text(content, encoding="utf-8")
    result = wfc("migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", "--mapping", "mapping.json", "--db", url)
    message = shown(result.stderr)
    assert result.exit_code == 1, result.output
    assert "internal error" not in message and no_traceback(result), result.output
    assert f"mapping.json: the mapping file must hold a JSON object with `nodes` and/or `variables`, not {kind}" in (
        message
    )
    assert "see the README's 'Planning a migration'" in message


def test_an_object_mapping_file_still_plans(wfc: Invoke, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "runs.db")
    park(url)
    (tmp_path / "mapping.json").write_text("{}", encoding="utf-8")
    result = wfc("migrate", "plan", "ship", "--from", "1.0", "--to", "1.1", "--mapping", "mapping.json", "--db", url)
    assert result.exit_code == 0, result.output
