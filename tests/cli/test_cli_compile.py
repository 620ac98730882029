"""wfc compile: writing specs, version bumps, --check, and every error path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from wfc.specs import loads

Invoke = Callable[..., Result]
WriteModule = Callable[[str, str], Path]
WriteBody = Callable[..., Path]

HEADER = """\
from wfc.dsl import Workflow, WorkflowThread


"""

BASE = """\
def checkout(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required()
    wf.execute("charge-card", order_id, retries=3)


checkout_wf = Workflow("checkout", checkout)
"""

WITH_TASK = BASE.replace(
    '    wf.execute("charge-card", order_id, retries=3)\n',
    '    wf.execute("charge-card", order_id, retries=3)\n    wf.execute("ship-order", order_id)\n',
)

WITH_INPUT = WITH_TASK.replace(
    '    wf.execute("charge-card", order_id, retries=3)\n',
    '    amount = wf.declare_float("amount").required()\n    wf.execute("charge-card", order_id, amount, retries=3)\n',
)


def _rows(result: Result) -> list[list[str]]:
    """The body rows of the table printed by compile, as cells."""
    rows = []
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0] != "workflow":
            rows.append(cells)
    return rows


@pytest.fixture
def module(write_module: WriteModule) -> WriteBody:
    def write(body: str, name: str = "checkout.py") -> Path:
        return write_module(name, HEADER + body)

    return write


def test_first_compile_writes_version_1_0(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    result = invoke("compile", "checkout.py", "-o", "specs")
    assert result.exit_code == 0, result.output
    assert _rows(result) == [["checkout", "1.0", "3", "new"]]
    spec = loads(Path("specs/checkout.json").read_bytes())
    assert (spec.name, str(spec.version)) == ("checkout", "1.0")
    assert "wrote 1 of 1 spec file(s) to specs" in result.stdout
    assert not [p for p in Path("specs").iterdir() if p.name != "checkout.json"]  # no temp files left


def test_versions_through_repeated_compiles(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    invoke("compile", "checkout.py", "-o", "specs")
    target = Path("specs/checkout.json")
    before = target.stat().st_mtime_ns, target.read_bytes()

    unchanged = invoke("compile", "checkout.py", "-o", "specs")
    assert _rows(unchanged) == [["checkout", "1.0", "3", "unchanged"]]
    assert (target.stat().st_mtime_ns, target.read_bytes()) == before  # not rewritten

    module(WITH_TASK)
    revision = invoke("compile", "checkout.py", "-o", "specs")
    assert _rows(revision) == [["checkout", "1.1", "4", "1 node added, 1 changed"]]
    assert str(loads(target.read_bytes()).version) == "1.1"

    module(WITH_INPUT)
    major = invoke("compile", "checkout.py", "-o", "specs")
    [[_, version, _, change]] = _rows(major)
    assert version == "2.0"
    assert "new required variable 'amount' (float)" in change
    assert str(loads(target.read_bytes()).version) == "2.0"


def test_check_fails_on_a_new_file_and_writes_nothing(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    result = invoke("compile", "checkout.py", "-o", "specs", "--check")
    assert result.exit_code == 1
    assert "error: specs/checkout.json would be created" in result.stderr
    assert not Path("specs").exists()


def test_check_passes_when_up_to_date(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    invoke("compile", "checkout.py", "-o", "specs")
    result = invoke("compile", "checkout.py", "-o", "specs", "--check")
    assert result.exit_code == 0
    assert "1 spec file(s) up to date" in result.stdout


def test_check_fails_on_a_change_and_writes_nothing(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    invoke("compile", "checkout.py", "-o", "specs")
    before = Path("specs/checkout.json").read_bytes()
    module(WITH_TASK)
    result = invoke("compile", "checkout.py", "-o", "specs", "--check")
    assert result.exit_code == 1
    assert "error: specs/checkout.json would be updated: 1 node added" in result.stderr
    assert Path("specs/checkout.json").read_bytes() == before


def test_sibling_imports_and_several_workflows(invoke: Invoke, write_module: WriteModule) -> None:
    write_module("checkout_tasks.py", 'CHARGE = "charge-card"\n')
    write_module(
        "flows.py",
        HEADER
        + BASE.replace('"charge-card"', "CHARGE")
        + '\n\ndef refund(wf: WorkflowThread) -> None:\n    wf.execute("refund-card")\n\n\n'
        + 'refund_wf = Workflow("refund", refund)\nalias = refund_wf\n',
    )
    Path("flows.py").write_text("from checkout_tasks import CHARGE\n" + Path("flows.py").read_text())
    result = invoke("compile", "flows.py", "-o", "out")
    assert result.exit_code == 0, result.output
    assert [row[0] for row in _rows(result)] == ["checkout", "refund"]
    assert sorted(p.name for p in Path("out").iterdir()) == ["checkout.json", "refund.json"]
    assert b'"task": "charge-card"' in Path("out/checkout.json").read_bytes()


def test_module_name_target(invoke: Invoke, module: WriteBody) -> None:
    module(BASE, name="wfc_cli_test_flows.py")
    result = invoke("compile", "wfc_cli_test_flows", "-o", "specs")
    assert result.exit_code == 0, result.output
    assert Path("specs/checkout.json").exists()


def test_same_workflow_reached_through_two_files_is_compiled_once(
    invoke: Invoke, module: WriteBody, write_module: WriteModule
) -> None:
    module(BASE)
    write_module("more.py", "from checkout import checkout_wf\n")
    result = invoke("compile", "checkout.py", "more.py", "-o", "specs")
    assert result.exit_code == 0, result.output
    assert len(_rows(result)) == 1


def test_warnings_are_printed_and_do_not_fail(invoke: Invoke, module: WriteBody) -> None:
    module(
        BASE.replace(
            '    wf.execute("charge-card", order_id, retries=3)\n',
            '    paid = wf.wait_for_event("paid")\n'
            '    wf.handle_exception(paid, lambda t: t.execute("refund"), name="declined")\n',
        )
    )
    result = invoke("compile", "checkout.py", "-o", "specs")
    assert result.exit_code == 0, result.output
    assert "warning: checkout: " in result.stderr
    assert "can never raise the exception 'declined'" in result.stderr
    assert Path("specs/checkout.json").exists()


# --- errors -----------------------------------------------------------------------


def _fails(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_compile_error_lists_problems_and_writes_nothing(invoke: Invoke, module: WriteBody) -> None:
    module(BASE.replace("retries=3)", 'retries=3)\n    wf.do_if(wf.condition("nosuch > 1"), lambda t: t.execute("x"))'))
    result = invoke("compile", "checkout.py", "-o", "specs")
    _fails(result, "workflow 'checkout' is invalid", "checkout.py:", "nosuch")
    assert not Path("specs").exists()


def test_exception_in_the_workflow_function(invoke: Invoke, module: WriteBody) -> None:
    module(BASE.replace("retries=3)", "retries=3)\n    {}['missing']"))
    _fails(invoke("compile", "checkout.py", "-o", "specs"), "checkout.py:7", "KeyError")


def test_syntax_error_names_file_and_line(invoke: Invoke, module: WriteBody) -> None:
    module(BASE.replace("-> None:", "-> None"))
    _fails(invoke("compile", "checkout.py", "-o", "specs"), "cannot import checkout.py: syntax error at checkout.py:4")


def test_exception_while_importing(invoke: Invoke, module: WriteBody) -> None:
    module(BASE + "raise ValueError('bad config')\n")
    result = invoke("compile", "checkout.py", "-o", "specs")
    _fails(result, "importing checkout.py failed at checkout.py:10: ValueError: bad config")


def test_a_module_that_exits_while_importing(invoke: Invoke, module: WriteBody) -> None:
    # sys.exit(0) on import used to end the command with exit code 0 and nothing done
    module(BASE + "import sys\nsys.exit(0)\n")
    result = invoke("compile", "checkout.py", "-o", "specs")
    _fails(result, "importing checkout.py exited (sys.exit(0))", 'if __name__ == "__main__":')
    assert not Path("specs").exists()


def test_a_syntax_error_without_a_line(invoke: Invoke) -> None:
    Path("garbage.py").write_bytes(b"\x00\xff garbage")
    result = invoke("compile", "garbage.py", "-o", "specs")
    _fails(result, "cannot import garbage.py: syntax error at garbage.py: ")
    assert "None" not in result.output


def test_missing_sibling_module(invoke: Invoke, module: WriteBody) -> None:
    module("import wfc_no_such_module_xyz\n" + BASE)
    result = invoke("compile", "checkout.py", "-o", "specs")
    _fails(result, "importing checkout.py failed at checkout.py:4: ModuleNotFoundError")


def test_dsl_error_while_importing(invoke: Invoke, module: WriteBody) -> None:
    module(BASE.replace('Workflow("checkout"', 'Workflow("check out"'))
    _fails(invoke("compile", "checkout.py", "-o", "specs"), "importing checkout.py failed: ", "checkout.py:9")


def test_no_workflow(invoke: Invoke, write_module: WriteModule) -> None:
    write_module("tasks.py", "X = 1\n")
    _fails(invoke("compile", "tasks.py", "-o", "specs"), "no workflow found in tasks.py", "Workflow(")


def test_missing_file(invoke: Invoke) -> None:
    _fails(invoke("compile", "nope.py", "-o", "specs"), "nope.py: no such file")


def test_directory(invoke: Invoke) -> None:
    Path("flows").mkdir()
    _fails(invoke("compile", "flows", "-o", "specs"), "flows is a directory")


def test_not_a_python_file(invoke: Invoke) -> None:
    Path("flows.txt").write_text("x")
    _fails(invoke("compile", "flows.txt", "-o", "specs"), "flows.txt is not a Python file")


def test_unknown_module(invoke: Invoke) -> None:
    _fails(invoke("compile", "wfc_no_such.module", "-o", "specs"), "no module named 'wfc_no_such.module'")


def test_duplicate_names(invoke: Invoke, module: WriteBody) -> None:
    module(BASE, "a.py")
    module(BASE, "b.py")
    _fails(invoke("compile", "a.py", "b.py", "-o", "specs"), "2 workflows are named 'checkout'", "a.py:checkout_wf")


def test_invalid_existing_spec(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    Path("specs").mkdir()
    Path("specs/checkout.json").write_text("garbage")
    result = invoke("compile", "checkout.py", "-o", "specs")
    _fails(result, "specs/checkout.json: invalid workflow spec at $: not valid JSON", "delete it")
    assert Path("specs/checkout.json").read_text() == "garbage"


def test_output_is_a_file(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    Path("specs").write_text("")
    _fails(invoke("compile", "checkout.py", "-o", "specs"), "specs is a file")


def test_output_named_like_a_spec_file_is_refused(invoke: Invoke, module: WriteBody) -> None:
    module(BASE)
    _fails(invoke("compile", "checkout.py", "-o", "checkout.json"), "-o checkout.json looks like a file name")
    assert not Path("checkout.json").exists()  # no folder of that name made
    Path("old.json").mkdir()  # a folder that exists is taken, whatever its name
    assert invoke("compile", "checkout.py", "-o", "old.json").exit_code == 0
    assert Path("old.json/checkout.json").is_file()
