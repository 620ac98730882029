"""A run's strings printed for a terminal show their control characters.

A task's exception message (what an outside service answered, say) carries
an escape sequence that clears the screen, one that retitles the window, a
carriage return that prints over the line, a C1 control and a bidi override
that shows "evil" as "live". Every text view of ``wfc`` prints them as
``\\u001b`` escapes, with or without colours; ``--json`` keeps the value as
it is (JSON escapes it). Real processes: the installed ``wfc`` script.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import no_traceback, sqlite_url, wfc_process

from wfc.cli import visible

MESSAGE = "bad \x1b[2J\x1b]0;pwned\x07 \u202eevil\u202c over\rwritten \x9b31m [bold]markup[/] end"
#: What the text views show of it.
SHOWN = "bad \\u001b[2J\\u001b]0;pwned\\u0007 \\u202eevil\\u202c over\\u000dwritten \\u009b31m [bold]markup[/] end"
#: Characters no text view may print of a run's values.
ACTING = ("\x1b[2J", "\x1b]0", "\x07", "\u202e", "\r", "\x9b")

FLOW = textwrap.dedent(
    f"""
    from wfc.dsl import Workflow, WorkflowThread
    from wfc.runtime import task

    @task("boom", retries=0)
    async def boom() -> None:
        raise RuntimeError({MESSAGE!r})

    def body(wf: WorkflowThread) -> None:
        wf.execute("boom")

    workflow = Workflow("controls", body)
    """
)


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A folder with the flow, its database, and the id of its failed run."""
    folder = tmp_path_factory.mktemp("controls")
    (folder / "flow.py").write_text(FLOW)
    url = sqlite_url(folder / "runs.db")
    ran = wfc_process(folder, "run", "flow.py", "--db", url)
    assert ran.returncode == 1, ran.stderr
    assert not any(code in ran.stdout + ran.stderr for code in ACTING), ran.stdout
    assert SHOWN in ran.stdout
    listed = json.loads(wfc_process(folder, "runs", "list", "--db", url, "--json").stdout)
    runs = listed["runs"] if isinstance(listed, dict) else listed
    return folder, url, runs[0]["id"]


@pytest.mark.parametrize("view", [["runs", "show"], ["runs", "history"]])
@pytest.mark.parametrize("colour", [{"NO_COLOR": "1"}, {"FORCE_COLOR": "1", "NO_COLOR": ""}])
def test_text_views_show_the_controls_of_a_message(
    failed: tuple[Path, str, str], view: list[str], colour: dict[str, str]
) -> None:
    folder, url, run_id = failed
    shown = wfc_process(folder, *view, run_id, "--db", url, env=colour)
    assert shown.returncode == 0 and no_traceback(shown), shown.stderr
    assert not any(code in shown.stdout for code in ACTING), shown.stdout
    assert "\\u001b[2J" in shown.stdout and "\\u202eevil\\u202c" in shown.stdout
    if "FORCE_COLOR" in colour:
        assert "\x1b[" in shown.stdout  # rich's own colours are not the run's text: still there


def test_json_keeps_the_message_as_it_is(failed: tuple[Path, str, str]) -> None:
    folder, url, run_id = failed
    shown = wfc_process(folder, "runs", "show", run_id, "--db", url, "--json")
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout  # escaped by JSON
    assert any(MESSAGE in text for text in strings(json.loads(shown.stdout)))


def strings(value: object) -> list[str]:
    """Every string in a JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def test_plain_log_lines_show_the_controls_too(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)  # looked up at each record, as Python's own
    logger = logging.Logger("wfc.test.visible")
    logger.addHandler(visible.last_resort())
    logger.info("below the level: %s", MESSAGE)
    logger.warning("task said: %s", MESSAGE)
    assert err.getvalue() == f"task said: {SHOWN}\n"


def test_tabs_newlines_and_other_text_stay() -> None:
    text = "tab\there\nnew line, ünïcødé, emoji \U0001f600, zero width joiner \u200d, arabic \u0627"
    assert visible.visible(text) == text
