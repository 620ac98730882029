"""The compiler's checks: every problem, all at once, each at its ``file:line``.

Line numbers are asserted exactly: a ``# mark: <name>`` comment sits on the
line of the DSL call that causes each problem, in this file or in a module
written to ``tmp_path`` and imported.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# The helper lives with the DSL tests; with --import-mode=importlib pytest does
# not put that folder on sys.path itself.
sys.path.insert(0, str(Path(__file__).parents[1] / "dsl"))

from sourcemarks import mark_line, marks_in

from wfc.compiler import CompileError, CompileWarning, Problem, WfcError, compile_workflow
from wfc.dsl import Workflow, WorkflowThread
from wfc.specs import dumps, loads

THIS_FILE = os.path.realpath(__file__)
mark = marks_in(__file__)


def location(source: str) -> tuple[str, int]:
    file, _, line = source.rpartition(":")
    return os.path.realpath(file), int(line)


def here(name: str) -> tuple[str, int]:
    return THIS_FILE, mark(name)


def discard(fn: Callable[[WorkflowThread], Any]) -> Callable[[WorkflowThread], None]:
    """``fn`` as a workflow function that returns nothing, so a lambda's value is not the output."""

    def flow(wf: WorkflowThread) -> None:
        fn(wf)

    return flow


def problems(fn: Callable[[WorkflowThread], Any], name: str = "checked") -> list[Problem]:
    """Compile ``fn`` and return the problems of the CompileError it must raise."""
    with pytest.raises(CompileError) as info:
        compile_workflow(Workflow(name, discard(fn)))
    error = info.value
    assert isinstance(error, WfcError)
    assert error.workflow == name
    assert all(p.severity == "error" for p in error.problems)
    return error.problems


def only(fn: Callable[[WorkflowThread], Any]) -> Problem:
    (problem,) = problems(fn)
    return problem


def compiles(fn: Callable[[WorkflowThread], Any], name: str = "checked") -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        spec = compile_workflow(Workflow(name, discard(fn)))
    assert loads(dumps(spec)) == spec
    return spec


def noop(t: WorkflowThread) -> None:
    """A thread body that does nothing."""


# --- a module written to disk: every problem in one CompileError ---------------------------------

MODULE = '''
from wfc.dsl import Workflow, WorkflowThread


def order(wf: WorkflowThread) -> None:
    order_id = wf.declare_str("order-id").required()
    wf.declare_int("order-id")  # mark: mod-duplicate
    status = wf.declare_str("status").default("new")
    attempts = wf.declare_int("attempts").default(0)
    charge = wf.execute("charge-card", order_id, retries=3)
    wf.do_if(wf.condition("amout > 100 and status == 'new'"), lambda t: None)  # mark: mod-undeclared
    wf.do_if(status > 3, lambda t: t.execute("odd"))  # mark: mod-str-vs-number
    attempts.assign(1.5)  # mark: mod-float-to-int
    event = wf.wait_for_event("paid")
    event.compensate_with("unpay")  # mark: mod-compensate-non-task

    def ship(t: WorkflowThread) -> None:
        t.declare_str("sku").required()
        t.execute("ship", charge["id"])  # mark: mod-output-elsewhere

    kid = wf.spawn_thread(ship, "ship", {"skuu": "a"})  # mark: mod-inputs
    wf.handle_error(charge, lambda t: t.wait_for_threads(kid))  # mark: mod-foreign-wait
    wf.do_while(wf.condition("attempts <"), lambda t: t.execute("poll"))  # mark: mod-syntax
    wf.fail("rejected", "no")
    wf.execute("never")  # mark: mod-unreachable


order_wf = Workflow("order", order)  # mark: mod-workflow
'''


def load(tmp_path: Path, text: str, name: str) -> ModuleType:
    file = tmp_path / f"{name}.py"
    file.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def order_module(tmp_path: Path) -> Iterator[tuple[ModuleType, list[str]]]:
    name = f"wfc_checks_{abs(hash(tmp_path))}"
    module = load(tmp_path, MODULE, name)
    yield module, Path(module.__file__ or "").read_text("utf-8").splitlines()
    sys.modules.pop(name, None)


def test_one_compile_error_lists_every_problem_in_source_order(order_module: tuple[ModuleType, list[str]]) -> None:
    module, lines = order_module
    with pytest.raises(CompileError) as info:
        compile_workflow(module.order_wf)
    error = info.value
    file = os.path.realpath(module.__file__ or "")
    got = [(location(p.source), p.message.splitlines()[0]) for p in error.problems]
    expected_marks = [
        "duplicate", "undeclared", "str-vs-number", "float-to-int", "compensate-non-task", "output-elsewhere",
        "inputs", "inputs", "foreign-wait", "syntax", "unreachable",
    ]
    assert [where for where, _ in got] == [(file, mark_line(lines, f"mod-{m}")) for m in expected_marks]
    messages = [message for _, message in got]
    assert messages[0].startswith("variable 'order-id' is declared twice in thread 'main' (first at ")
    assert messages[1].startswith("unknown name 'amout'")
    assert messages[2] == ("comparing str variable 'status' with an int using '>' is never meaningful; "
                           "compare values of the same type")
    assert messages[3] == "cannot assign a float to int variable 'attempts'"
    assert messages[4].startswith("compensate_with() on node 'wait-paid', a wait_for_event node")
    assert messages[5].startswith("the output of node 'charge-card' (thread 'main') is used in thread 'ship'")
    assert messages[6].startswith("input 'skuu' for thread 'ship', which declares no such variable")
    assert messages[7].startswith("thread 'ship' requires input 'sku'")
    assert messages[8].startswith("wait_for_threads() in thread 'charge-card-on-error' waits for 'spawn-ship'")
    assert messages[9].startswith("unexpected end of expression")
    assert messages[10].startswith("this step (node 'never') can never run")


def test_compile_error_message_lists_the_problems(order_module: tuple[ModuleType, list[str]]) -> None:
    module, lines = order_module
    with pytest.raises(CompileError) as info:
        module.order_wf.compile()
    text = str(info.value)
    first, *rest = text.splitlines()
    assert first == "workflow 'order' is invalid for 11 reasons:"
    source = info.value.problems[0].source
    assert rest[0] == f"  - {source}: {info.value.problems[0].message}"
    assert f"{source.rpartition(':')[0]}:{mark_line(lines, 'mod-duplicate')}" == source
    # multi-line messages (carets) are indented under their problem
    caret_lines = [line for line in rest if line.strip().startswith("^")]
    assert caret_lines and all(line.startswith("      ") for line in caret_lines)


def test_problem_str_is_source_then_message() -> None:
    assert str(Problem("bad", "flow.py:3")) == "flow.py:3: bad"
    assert Problem("bad", "flow.py:3").severity == "error"


def test_compile_error_with_one_problem() -> None:
    error = CompileError("w", [Problem("first line\nsecond line", "f.py:1")])
    assert str(error) == "workflow 'w' is invalid for a reason:\n  - f.py:1: first line\n      second line"
    assert error.problems == [Problem("first line\nsecond line", "f.py:1")]


# --- duplicate and hiding variables, duplicate threads ------------------------------------------------


def test_duplicate_variable() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("status")  # mark: dup-first
        wf.declare_str("status")  # mark: dup-second

    problem = only(flow)
    assert location(problem.source) == here("dup-second")
    first = f"{problem.source.rpartition(':')[0]}:{mark('dup-first')}"
    assert problem.message == (
        f"variable 'status' is declared twice in thread 'main' (first at {first}); declare it once"
    )


def test_duplicate_variable_of_another_type_in_a_child() -> None:
    def flow(wf: WorkflowThread) -> None:
        def kid(t: WorkflowThread) -> None:
            t.declare_str("sku")
            t.declare_json("sku")  # mark: dup-child

        wf.spawn_thread(kid, "kid")

    problem = only(flow)
    assert location(problem.source) == here("dup-child")
    assert "declared twice in thread 'kid'" in problem.message


def test_each_duplicate_is_reported() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("s")
        wf.declare_str("s")  # mark: dup-2
        wf.declare_int("s")  # mark: dup-3

    assert [location(p.source) for p in problems(flow)] == [here("dup-2"), here("dup-3")]


def test_variable_hiding_an_outer_one() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("status")

        def kid(t: WorkflowThread) -> None:
            t.declare_str("status")  # mark: hides

        wf.spawn_thread(kid, "kid")

    problem = only(flow)
    assert location(problem.source) == here("hides")
    assert problem.message.startswith("variable 'status' hides the variable of the same name declared in thread 'main'")
    assert problem.message.endswith("; choose another name")


def test_same_variable_name_in_two_sibling_threads_is_fine() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(discard(lambda t: t.declare_str("sku")), "a")
        wf.spawn_thread(discard(lambda t: t.declare_str("sku")), "b")

    spec = compiles(flow)
    assert set(spec.threads["a"].variables) == set(spec.threads["b"].variables) == {"sku"}


def test_two_threads_with_one_name() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(noop, "worker")
        wf.spawn_thread(noop, "worker")  # mark: dup-thread

    problem = only(flow)
    assert location(problem.source) == here("dup-thread")
    assert problem.message.startswith("thread name 'worker' is already used (at ")
    assert problem.message.endswith("give each spawned thread its own name")


def test_a_thread_named_like_the_entrypoint() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(noop, "main")  # mark: thread-main

    problem = only(flow)
    assert location(problem.source) == here("thread-main")
    assert "thread name 'main' is already used" in problem.message


# --- undeclared names in expression strings ---------------------------------------------------------


def test_undeclared_name_with_a_caret_under_it() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_float("amount")
        wf.declare_str("status")
        wf.do_if(wf.condition("amount > 100 and stauts == 'new'"), noop)  # mark: caret

    problem = only(flow)
    assert location(problem.source) == here("caret")
    assert problem.message == (
        "unknown name 'stauts': no variable of that name is visible in thread 'main' (visible: amount, status); "
        "declare it, or bind a node output by keyword: wf.condition(\"c.ok\", c=charge)\n"
        "  amount > 100 and stauts == 'new'\n"
        "                   ^^^^^^"
    )


def test_undeclared_quoted_name() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_while(wf.condition("`order-id` != null"), lambda t: t.execute("x"))  # mark: quoted

    problem = only(flow)
    assert location(problem.source) == here("quoted")
    assert problem.message.endswith("  `order-id` != null\n  ^^^^^^^^^^")
    assert "(visible: none)" in problem.message


def test_every_undeclared_name_once_each() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_if(wf.condition("a > 1 and b > a and\n  c == 2"), noop)  # mark: three-names

    found = problems(flow)
    assert [p.message.split(":")[0] for p in found] == ["unknown name 'a'", "unknown name 'b'", "unknown name 'c'"]
    assert all(location(p.source) == here("three-names") for p in found)
    assert found[2].message.endswith("    c == 2\n    ^")


def test_names_bound_by_keyword_are_not_variables() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.do_if(wf.condition("c.ok and limit > 3", c=charge, limit=5), noop)

    compiles(flow)


def test_outer_variables_are_visible_in_children_and_handlers() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_float("amount")
        handled = wf.execute("charge")

        def kid(t: WorkflowThread) -> None:
            t.do_if(t.condition("amount > 1 and item.qty > 0"), noop)

        wf.spawn_thread_for_each([1], kid, "kid")
        wf.handle_error(handled, lambda t: t.do_if(t.condition("failure.code == 'x' and amount > 0"), noop))
        wf.add_interrupt_handler("stop", lambda t: t.do_if(t.condition("event.now and amount > 0"), noop))

    compiles(flow)


def test_a_childs_variable_is_not_visible_in_the_parent() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(discard(lambda t: t.declare_int("inner")), "kid")
        wf.do_if(wf.condition("inner > 1"), noop)  # mark: child-var

    problem = only(flow)
    assert location(problem.source) == here("child-var")
    assert problem.message.startswith("unknown name 'inner'")


def test_implicit_variables_only_where_wfc_declares_them() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_if(wf.condition("failure != null"), noop)  # mark: no-failure
        wf.spawn_thread(lambda t: t.do_if(t.condition("item > 0"), noop) and None, "kid")  # mark: no-item

    found = problems(flow)
    assert [(location(p.source), p.message.split(":")[0]) for p in found] == [
        (here("no-failure"), "unknown name 'failure'"),
        (here("no-item"), "unknown name 'item'"),
    ]


# --- expression syntax errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrases", "caret"),
    [
        ("amount >", ["end of expression", "column 8"], "  amount >\n          ^"),
        ("amount = 1", ["column 7", "did you mean '=='?"], "  amount = 1\n         ^"),
        ("amount > 1 && ok", ["column 11", "did you mean 'and'?"], "  amount > 1 && ok\n             ^^"),
        ("nope(amount)", ["unknown function nope()", "column 0"], "  nope(amount)\n  ^^^^"),
        ("status == 'new", ["unterminated string", "column 10"], "  status == 'new\n            ^"),
        ("1 < amount < 3", ["column 11", "comparisons do not chain"], "  1 < amount < 3\n             ^"),
    ],
)
def test_expression_syntax_error(text: str, phrases: list[str], caret: str) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_float("amount")
        wf.declare_str("status")
        wf.declare_bool("ok")
        wf.do_if(wf.condition(text), noop)  # mark: syntax

    problem = only(flow)
    assert location(problem.source) == here("syntax")
    first_line = problem.message.splitlines()[0]
    assert all(phrase in first_line for phrase in phrases), first_line
    assert problem.message.endswith(caret)


def test_syntax_error_is_at_the_condition_call_not_the_do_if() -> None:
    def flow(wf: WorkflowThread) -> None:
        cond = wf.condition("(((")  # mark: condition-call
        wf.execute("a")
        wf.do_if(cond, noop)

    assert location(only(flow).source) == here("condition-call")


def test_syntax_errors_do_not_hide_other_problems() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.do_if(wf.condition("a =="), noop)  # mark: syntax-1
        wf.do_if(wf.condition("b >< 2"), noop)  # mark: syntax-2
        wf.declare_str("x")
        wf.declare_str("x")  # mark: syntax-3

    assert [location(p.source) for p in problems(flow)] == [here("syntax-1"), here("syntax-2"), here("syntax-3")]


# --- static types -----------------------------------------------------------------------------------


TYPE_ERRORS: dict[str, tuple[Callable[[WorkflowThread], Any], str]] = {
    "str-gt-int": (
        lambda wf: wf.do_if(wf.declare_str("s") > 1, noop),  # mark: type-str-gt-int
        "comparing str variable 's' with an int using '>' is never meaningful; compare values of the same type",
    ),
    "str-eq-int-string": (
        lambda wf: [wf.declare_str("s"), wf.do_if(wf.condition("s == 1"), noop)],  # mark: type-str-eq-int-string
        "comparing str variable 's' with an int using '==' is never meaningful; compare values of the same type"
        "\n  in: s == 1",
    ),
    "int-eq-str": (
        lambda wf: wf.do_if(wf.declare_int("n") == "1", noop),  # mark: type-int-eq-str
        "comparing int variable 'n' with a string using '==' is never meaningful; compare values of the same type",
    ),
    "bool-lt-bool": (
        lambda wf: wf.do_if(wf.declare_bool("b") < True, noop),  # mark: type-bool-lt-bool
        "comparing bool variable 'b' with a bool using '<' is never meaningful; compare values of the same type",
    ),
    "str-plus-int": (
        lambda wf: wf.execute("a", wf.declare_str("s") + 1),  # mark: type-str-plus-int
        "cannot apply '+' to str variable 's' and an int",
    ),
    "in-int": (
        lambda wf: wf.do_if(wf.declare_str("s").is_in(5), noop),  # mark: type-in-int
        "'in' needs a list or a string on its right, got an int",
    ),
    "negate-str": (
        lambda wf: wf.execute("a", -wf.declare_str("s")),  # mark: type-negate-str
        "cannot negate str variable 's'",
    ),
    "condition-int": (
        lambda wf: wf.do_if(wf.declare_int("n"), noop),  # mark: type-condition-int
        "a condition must be true or false, but this is int variable 'n'; compare it, e.g. status == 'new'",
    ),
    "condition-str-literal": (
        lambda wf: wf.do_while(wf.condition("'yes'"), lambda t: t.execute("x")),  # mark: type-condition-str-literal
        "a condition must be true or false, but this is a string; compare it, e.g. status == 'new'\n  in: 'yes'",
    ),
    "assign-float-to-int": (
        lambda wf: wf.declare_int("n").assign(1.5),  # mark: type-assign-float-to-int
        "cannot assign a float to int variable 'n'",
    ),
    "assign-division-to-int": (
        lambda wf: wf.mutate(n := wf.declare_int("n"), "assign", n / 2),  # mark: type-assign-division-to-int
        "cannot assign a float to int variable 'n'",
    ),
    "assign-str-to-bool": (
        lambda wf: wf.declare_bool("b").assign("yes"),  # mark: type-assign-str-to-bool
        "cannot assign a string to bool variable 'b'",
    ),
    "assign-list-to-str": (
        lambda wf: wf.declare_str("s").assign([1]),  # mark: type-assign-list-to-str
        "cannot assign a list to str variable 's'",
    ),
    "add-float-to-int": (
        lambda wf: wf.mutate(wf.declare_int("n"), "add", 0.5),  # mark: type-add-float-to-int
        "add of a float to int variable 'n' would make it a float; declare it with declare_float",
    ),
    "subtract-from-str": (
        lambda wf: wf.mutate(wf.declare_str("s"), "subtract", 1),  # mark: type-subtract-from-str
        "cannot subtract to str variable 's'; arithmetic needs an int or float",
    ),
    "append-to-int": (
        lambda wf: wf.mutate(wf.declare_int("n"), "append", 1),  # mark: type-append-to-int
        "append needs a json (list or object) variable, but 'n' is an int",
    ),
    "default-str-for-int": (
        lambda wf: wf.declare_int("n").default("0"),  # mark: type-default-str-for-int
        "the default '0' of variable 'n' is not an int",
    ),
    "default-int-for-bool": (
        lambda wf: wf.declare_bool("b").default(1),  # mark: type-default-int-for-bool
        "the default 1 of variable 'b' is not a bool",
    ),
    "default-float-for-int": (
        lambda wf: wf.declare_int("n").default(1.5),  # mark: type-default-float-for-int
        "the default 1.5 of variable 'n' is not an int",
    ),
}


@pytest.mark.parametrize("case", list(TYPE_ERRORS))
def test_static_type_error(case: str) -> None:
    fn, message = TYPE_ERRORS[case]
    problem = only(fn)
    assert location(problem.source) == here(f"type-{case}")
    assert problem.message == message


TYPES_OK: dict[str, Callable[[WorkflowThread], Any]] = {
    "int-vs-float": lambda wf: wf.do_if(wf.declare_int("n") > 1.5, noop),
    "str-lt-str": lambda wf: wf.do_if(wf.declare_str("s") < "m", noop),
    "eq-null": lambda wf: wf.do_if(wf.declare_str("s") == None, noop),  # noqa: E711
    "json-vs-anything": lambda wf: wf.do_if(wf.declare_json("j") > 3, noop),
    "output-vs-anything": lambda wf: wf.do_if(wf.execute("a")["n"] == "x", noop),
    "path-vs-anything": lambda wf: wf.do_if(wf.declare_json("j")["a"] < 2, noop),
    "str-concat": lambda wf: wf.execute("a", wf.declare_str("s") + "-x"),
    "in-str": lambda wf: wf.do_if(wf.declare_str("s").is_in("abc"), noop),
    "in-list": lambda wf: wf.do_if(wf.declare_str("s").is_in(["a", "b"]), noop),
    "assign-int-to-float": lambda wf: wf.declare_float("f").assign(1),
    "assign-anything-to-json": lambda wf: wf.declare_json("j").assign("x"),
    "assign-output-to-int": lambda wf: wf.declare_int("n").assign(wf.execute("a")["n"]),
    "assign-null": lambda wf: wf.declare_int("n").assign(None),
    "add-str-to-str": lambda wf: wf.mutate(wf.declare_str("s"), "add", "x"),
    "add-float-to-float": lambda wf: wf.mutate(wf.declare_float("f"), "add", 0.5),
    "bool-condition": lambda wf: wf.do_if(wf.declare_bool("b"), noop),
    "json-condition": lambda wf: wf.do_if(wf.declare_json("j"), noop),
    "call-len": lambda wf: wf.do_if(wf.condition("len(items) > 2", items=[1, 2, 3]), noop),
    "default-int-for-float": lambda wf: wf.declare_float("f").default(2),
    "default-json": lambda wf: wf.declare_json("j").default({"a": [1]}),
}


@pytest.mark.parametrize("case", list(TYPES_OK))
def test_statically_fine(case: str) -> None:
    compiles(TYPES_OK[case])


@pytest.mark.parametrize(
    "fn",
    [
        lambda wf: wf.sleep("ten minutes"),
        lambda wf: wf.sleep(True),
        lambda wf: wf.sleep(wf.declare_str("delay")),
        lambda wf: wf.sleep_until(True),
    ],
    ids=["sleep-str", "sleep-bool", "sleep-str-variable", "sleep-until-bool"],
)
def test_timer_of_the_wrong_type(fn: Callable[[WorkflowThread], Any]) -> None:
    with pytest.raises(WfcError, match="number"):
        compile_workflow(Workflow("timer", fn))


# --- unreachable steps ----------------------------------------------------------------------------


def test_step_after_fail() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.fail("boom")
        wf.execute("never")  # mark: after-fail
        wf.execute("never-either")

    problem = only(flow)
    assert location(problem.source) == here("after-fail")
    assert problem.message == (
        "this step (node 'never') can never run: it comes after the thread ended with wf.fail(), "
        "wf.complete() or wf.compensate(), or after branches that all end it"
    )


@pytest.mark.parametrize(
    "end",
    [lambda wf: wf.complete(1), lambda wf: wf.compensate(), lambda wf: wf.fail("x")],
    ids=["complete", "compensate", "fail"],
)
def test_step_after_the_thread_ended(end: Callable[[WorkflowThread], None]) -> None:
    def flow(wf: WorkflowThread) -> None:
        end(wf)
        wf.sleep(1)  # mark: after-end

    assert location(only(flow).source) == here("after-end")


def test_step_after_branches_that_all_end() -> None:
    def flow(wf: WorkflowThread) -> None:
        ok = wf.declare_bool("ok")
        wf.do_if(ok, lambda t: t.complete("yes")).do_else(lambda t: t.fail("no"))
        wf.execute("never")  # mark: after-branches

    assert location(only(flow).source) == here("after-branches")


def test_unreachable_step_in_a_child_thread() -> None:
    def flow(wf: WorkflowThread) -> None:
        def kid(t: WorkflowThread) -> None:
            t.compensate()
            t.execute("never")  # mark: child-unreachable

        wf.spawn_thread(kid, "kid")

    problem = only(flow)
    assert location(problem.source) == here("child-unreachable")


def test_mutation_after_the_thread_ended() -> None:
    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count")
        wf.complete(count)
        count.assign(1)  # mark: mutation-after-end

    problem = only(flow)
    assert location(problem.source) == here("mutation-after-end")
    assert problem.message == "this change of a variable comes after the thread ended and never happens"


def test_branches_that_all_end_leave_no_dangling_scaffolding() -> None:
    def flow(wf: WorkflowThread) -> None:
        ok = wf.declare_bool("ok")
        wf.execute("a")
        wf.do_if(ok, lambda t: t.fail("x")).do_else(lambda t: t.fail("y"))

    spec = compiles(flow)
    assert sorted(spec.threads["main"].nodes) == ["a", "entrypoint", "fail-x", "fail-y", "if"]


def test_do_while_that_adds_no_step() -> None:
    def flow(wf: WorkflowThread) -> None:
        flag = wf.declare_bool("flag")
        wf.do_while(flag, noop)  # mark: empty-while

    problem = only(flow)
    assert location(problem.source) == here("empty-while")
    assert problem.message == "the body of do_while does nothing, so the loop would spin forever"


# --- threads: waits, outputs, inputs ----------------------------------------------------------------


def test_waiting_in_a_handler_for_a_thread_spawned_in_main() -> None:
    def flow(wf: WorkflowThread) -> None:
        kid = wf.spawn_thread(noop, "kid")
        wf.handle_any_failure(wf.execute("a"), lambda t: t.wait_for_threads(kid))  # mark: wait-in-handler
        wf.wait_for_threads(kid)

    problem = only(flow)
    assert location(problem.source) == here("wait-in-handler")
    assert problem.message == (
        "wait_for_threads() in thread 'a-on-failure' waits for 'spawn-kid', spawned in thread 'main'; "
        "wait in the thread that spawned it"
    )


def test_waiting_in_main_for_a_grandchild() -> None:
    spawned: list[Any] = []

    def flow(wf: WorkflowThread) -> None:
        def kid(t: WorkflowThread) -> None:
            spawned.append(t.spawn_thread(noop, "grandchild"))

        wf.spawn_thread(kid, "kid")
        wf.wait_for_threads(*spawned)  # mark: wait-grandchild

    problem = only(flow)
    assert location(problem.source) == here("wait-grandchild")
    assert "in thread 'main' waits for 'spawn-grandchild', spawned in thread 'kid'" in problem.message


def test_waiting_in_a_sibling() -> None:
    def flow(wf: WorkflowThread) -> None:
        first = wf.spawn_thread(noop, "first")
        wf.spawn_thread(lambda t: t.wait_for_threads(first), "second")  # mark: wait-sibling

    assert location(only(flow).source) == here("wait-sibling")


def test_main_output_used_in_a_child() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.spawn_thread(lambda t: t.execute("ship", charge["id"]), "kid")  # mark: output-in-child

    problem = only(flow)
    assert location(problem.source) == here("output-in-child")
    assert problem.message == (
        "the output of node 'charge' (thread 'main') is used in thread 'kid'; node outputs are only visible "
        "in their own thread: assign it to a variable there and use the variable"
    )


def test_child_output_used_in_main() -> None:
    outputs: list[Any] = []

    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(lambda t: outputs.append(t.execute("inner")), "kid")
        wf.execute("outer", outputs[0])  # mark: output-in-main

    problem = only(flow)
    assert location(problem.source) == here("output-in-main")
    assert "the output of node 'inner' (thread 'kid') is used in thread 'main'" in problem.message


@pytest.mark.parametrize(
    "use",
    [
        lambda t, c: t.do_if(c["ok"] == True, noop),  # noqa: E712
        lambda t, c: t.declare_json("x").assign(c),
        lambda t, c: t.complete(c),
        lambda t, c: t.fail("x", content=c),
        lambda t, c: t.sleep(c["delay"]),
        lambda t, c: t.wait_for_event("e", correlation=c["id"]),
        lambda t, c: t.spawn_thread_for_each(c, noop, "g"),
        lambda t, c: t.execute("x").compensate_with("undo", c),
        lambda t, c: t.do_if(t.condition("x.ok", x=c), noop),
    ],
    ids=["condition", "mutation", "complete", "fail", "sleep", "correlation", "for-each", "compensation", "binding"],
)
def test_main_output_used_in_a_handler_anywhere(use: Callable[[WorkflowThread, Any], Any]) -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.handle_error(charge, discard(lambda t: use(t, charge)))

    problem = only(flow)
    assert "the output of node 'charge' (thread 'main') is used in thread 'charge-on-error'" in problem.message


def test_missing_and_unknown_child_inputs() -> None:
    def flow(wf: WorkflowThread) -> None:
        def kid(t: WorkflowThread) -> None:
            t.declare_str("sku").required()
            t.declare_int("qty").required()
            t.declare_str("note")

        wf.spawn_thread(kid, "kid", {"skuu": "a", "qty": 1, "colour": "red"})  # mark: inputs-kid

    found = problems(flow)
    assert [location(p.source) for p in found] == [here("inputs-kid")] * 3
    assert [p.message for p in found] == [
        "input 'colour' for thread 'kid', which declares no such variable; declare it in the thread function: "
        "t.declare_str('colour').required()",
        "input 'skuu' for thread 'kid', which declares no such variable; declare it in the thread function: "
        "t.declare_str('skuu').required()",
        "thread 'kid' requires input 'sku'; pass it: inputs={'sku': ...}",
    ]


def test_for_each_inputs_do_not_need_the_item() -> None:
    def flow(wf: WorkflowThread) -> None:
        def kid(t: WorkflowThread) -> None:
            t.declare_str("warehouse").required()
            t.execute("ship", t.variable("item"), t.variable("warehouse"))

        wf.spawn_thread_for_each([1, 2], kid, "kid", {"warehouse": "eu"})

    compiles(flow)


def test_for_each_missing_a_required_input() -> None:
    def flow(wf: WorkflowThread) -> None:
        def kid(t: WorkflowThread) -> None:
            t.declare_str("warehouse").required()

        wf.spawn_thread_for_each([1, 2], kid, "kid")  # mark: for-each-missing

    problem = only(flow)
    assert location(problem.source) == here("for-each-missing")
    assert problem.message == "thread 'kid' requires input 'warehouse'; pass it: inputs={'warehouse': ...}"


def test_optional_child_variables_need_no_input() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(discard(lambda t: t.declare_str("note").default("x")), "kid")

    compiles(flow)


# --- compensations and handlers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "node", "kind"),
    [
        (lambda wf: wf.wait_for_event("paid"), "wait-paid", "wait_for_event"),
        (lambda wf: wf.wait_for_threads(wf.spawn_thread(noop, "kid")), "wait-for-threads", "wait_for_threads"),
    ],
    ids=["event", "threads"],
)
def test_compensate_with_on_a_node_that_is_not_a_task(
    make: Callable[[WorkflowThread], Any], node: str, kind: str
) -> None:
    def flow(wf: WorkflowThread) -> None:
        output = make(wf)
        output.compensate_with("undo")  # mark: compensate-kind

    problem = only(flow)
    assert location(problem.source) == here("compensate-kind")
    assert problem.message == (
        f"compensate_with() on node {node!r}, a {kind} node: only task steps can be compensated; "
        "call it on what wf.execute() returned"
    )


def test_handler_for_an_exception_nothing_can_raise_is_a_warning() -> None:
    def flow(wf: WorkflowThread) -> None:
        paid = wf.wait_for_event("paid")
        wf.handle_exception(paid, noop, name="card-declined")  # mark: warn-event

    with pytest.warns(CompileWarning) as record:
        spec = compile_workflow(Workflow("warned", flow))
    assert loads(dumps(spec)) == spec
    (warning,) = [w for w in record if issubclass(w.category, CompileWarning)]
    text = str(warning.message)
    where, _, message = text.partition(": ")
    assert location(where) == here("warn-event")
    assert message == (
        "node 'wait-paid' can never raise the exception 'card-declined': only tasks and wf.fail() raise "
        "business exceptions"
    )
    # the handler is still compiled in
    assert spec.threads["main"].nodes["wait-paid"].handlers[0].thread == "wait-paid-on-card-declined"


def test_compile_warning_is_a_user_warning_not_an_error() -> None:
    assert issubclass(CompileWarning, UserWarning)
    assert not issubclass(CompileWarning, WfcError)


def test_handler_for_an_exception_no_child_raises_warns() -> None:
    def flow(wf: WorkflowThread) -> None:
        kid = wf.spawn_thread(lambda t: t.fail("other"), "kid")
        wf.handle_exception(wf.wait_for_threads(kid), noop, name="boom")  # mark: warn-threads

    with pytest.warns(CompileWarning, match="can never raise the exception 'boom'") as record:
        compile_workflow(Workflow("warned", flow))
    assert location(str(record[0].message).partition(": ")[0]) == here("warn-threads")


@pytest.mark.parametrize(
    "child",
    [
        lambda t: t.fail("boom", "child failed"),
        lambda t: t.execute("may-raise-anything"),
        lambda t: t.wait_for_threads(t.spawn_thread(lambda g: g.fail("boom"), "grandchild")),
    ],
    ids=["fail", "task", "grandchild"],
)
def test_handler_for_an_exception_a_child_can_raise_does_not_warn(child: Callable[[WorkflowThread], Any]) -> None:
    def flow(wf: WorkflowThread) -> None:
        kid = wf.spawn_thread(discard(child), "kid")
        wf.handle_exception(wf.wait_for_threads(kid), noop, name="boom")

    compiles(flow)


def test_handlers_on_tasks_never_warn() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.handle_exception(charge, noop, name="anything-at-all")
        wf.handle_exception(charge, noop)
        wf.handle_error(charge, noop)

    compiles(flow)


def test_warnings_do_not_stop_a_compile_with_errors_from_failing() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.handle_exception(wf.wait_for_event("paid"), noop, name="x")
        wf.declare_str("s")
        wf.declare_str("s")  # mark: error-with-warning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        assert [location(p.source) for p in problems(flow)] == [here("error-with-warning")]


def test_handler_in_another_thread_than_its_node() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.spawn_thread(lambda t: t.handle_error(charge, noop), "kid")  # mark: handler-elsewhere

    problem = only(flow)
    assert location(problem.source) == here("handler-elsewhere")
    assert problem.message == (
        "wf.handle_error() is in thread 'kid' but node 'charge' is in thread 'main'; register handlers in the "
        "thread that runs the node"
    )


def test_two_handlers_for_the_same_failure() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.handle_error(charge, noop)
        wf.handle_error(charge, noop)  # mark: handler-twice

    problem = only(flow)
    assert location(problem.source) == here("handler-twice")
    assert "spawned thread" not in problem.message
    assert "handler" in problem.message


def test_handlers_for_exceptions_differing_in_case() -> None:
    def flow(wf: WorkflowThread) -> None:
        charge = wf.execute("charge")
        wf.handle_exception(charge, noop, name="Declined")
        wf.handle_exception(charge, noop, name="declined")

    spec = compiles(flow)
    assert [h.name for h in spec.threads["main"].nodes["charge"].handlers] == ["Declined", "declined"]


def test_handlers_on_same_named_steps_in_two_threads() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.handle_error(wf.execute("charge-card"), noop)

        def kid(t: WorkflowThread) -> None:
            t.handle_error(t.execute("charge-card"), noop)

        wf.spawn_thread(kid, "kid")

    spec = compiles(flow)
    main_handler = spec.threads["main"].nodes["charge-card"].handlers[0].thread
    kid_handler = spec.threads["kid"].nodes["charge-card"].handlers[0].thread
    assert main_handler != kid_handler
    assert {main_handler, kid_handler} <= set(spec.threads)


def test_same_interrupt_in_a_parent_and_a_child() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.add_interrupt_handler("cancel", noop)
        wf.spawn_thread(lambda t: t.add_interrupt_handler("cancel", noop), "kid")

    spec = compiles(flow)
    assert spec.threads["main"].interrupts[0].thread != spec.threads["kid"].interrupts[0].thread


def test_changing_a_variable_the_thread_cannot_see() -> None:
    inner: list[Any] = []

    def flow(wf: WorkflowThread) -> None:
        wf.spawn_thread(lambda t: inner.append(t.declare_int("count")), "kid")
        wf.execute("a")
        inner[0].assign(1)  # mark: invisible-mutation

    problem = only(flow)
    assert location(problem.source) == here("invisible-mutation")
    assert problem.message == (
        "thread 'main' changes variable 'count' of thread 'kid', which it cannot see; a thread sees only its own "
        "variables and those of the threads above it"
    )


def test_a_handler_may_change_the_variables_of_its_thread() -> None:
    def flow(wf: WorkflowThread) -> None:
        status = wf.declare_str("status")
        wf.handle_any_failure(wf.execute("a"), lambda t: status.assign("failed"))
        wf.add_interrupt_handler("stop", lambda t: status.assign("stopped"))

    compiles(flow)


# --- where problems in conditions point --------------------------------------------------------------


def test_type_error_in_a_do_if_condition_points_at_the_do_if() -> None:
    def flow(wf: WorkflowThread) -> None:
        status = wf.declare_str("status")
        wf.do_if(status > 1, noop)  # mark: if-line

    assert location(only(flow).source) == here("if-line")


def test_type_error_in_a_do_while_condition_points_at_the_do_while() -> None:
    def flow(wf: WorkflowThread) -> None:
        status = wf.declare_str("status")
        wf.execute("a")
        wf.do_while(status > 1, lambda t: t.execute("b"))  # mark: while-line

    assert location(only(flow).source) == here("while-line")


def test_type_error_in_a_do_elif_condition_points_at_the_do_elif() -> None:
    def flow(wf: WorkflowThread) -> None:
        status = wf.declare_str("status")
        chain = wf.do_if(status == "new", noop)
        chain.do_elif(status > 1, noop)  # mark: elif-line

    assert location(only(flow).source) == here("elif-line")


# --- bad input is never a crash ---------------------------------------------------------------------------


def test_workflow_function_raising_is_a_compile_error_at_the_raising_line() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.execute("a")
        raise ValueError("config missing")  # mark: raises

    problem = only(flow)
    assert location(problem.source) == here("raises")
    assert problem.message == "the workflow function raised ValueError: config missing"


def test_bug_in_a_helper_of_the_workflow_function() -> None:
    def helper(wf: WorkflowThread) -> None:
        {}["missing"]  # mark: helper-raises

    def flow(wf: WorkflowThread) -> None:
        helper(wf)

    problem = only(flow)
    assert location(problem.source) == here("helper-raises")
    assert problem.message == "the workflow function raised KeyError: 'missing'"


def test_problem_sources_use_one_path_form() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_str("s")
        wf.declare_str("s")
        raise RuntimeError("boom")

    with pytest.raises(CompileError) as info:
        compile_workflow(Workflow("mixed", flow))
    (raised,) = info.value.problems
    with pytest.raises(CompileError) as dsl_info:
        compile_workflow(Workflow("dup", discard(lambda wf: [wf.declare_str("s"), wf.declare_str("s")])))
    (duplicate,) = dsl_info.value.problems
    assert raised.source.rpartition(":")[0] == duplicate.source.rpartition(":")[0]


def test_workflow_function_with_the_wrong_signature() -> None:
    workflow = Workflow("no-args", lambda: None)  # type: ignore[arg-type,misc]  # mark: wrong-signature
    with pytest.raises(CompileError) as info:
        workflow.compile()
    (problem,) = info.value.problems
    assert "TypeError" in problem.message
    assert problem.source != "<unknown>"
    assert location(problem.source) == here("wrong-signature")


def test_compile_workflow_of_something_else() -> None:
    with pytest.raises(TypeError, match=r"compile_workflow\(\) takes a wfc.dsl.Workflow, got 'checkout'"):
        compile_workflow("checkout")  # type: ignore[arg-type]
