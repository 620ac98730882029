"""The public names of ``wfc.compiler`` are a promise: pin them."""

from __future__ import annotations

import importlib
import inspect

import pytest

import wfc.compiler
from wfc.compiler import CompileError, CompileWarning, Problem, compile_workflow
from wfc.specs import WfcError

EXPECTED = [
    "CompileError",
    "CompileWarning",
    "InterfaceChange",
    "NodeChange",
    "Problem",
    "SpecDiff",
    "WfcError",
    "compile_workflow",
    "diff_specs",
    "next_version",
]


def test_all_is_pinned() -> None:
    assert sorted(wfc.compiler.__all__) == EXPECTED


def test_all_has_no_duplicates() -> None:
    assert len(wfc.compiler.__all__) == len(set(wfc.compiler.__all__))


@pytest.mark.parametrize("name", EXPECTED)
def test_each_name_is_importable(name: str) -> None:
    module = importlib.import_module("wfc.compiler")
    assert getattr(module, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from wfc.compiler import {name}", namespace)
    assert namespace[name] is getattr(module, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from wfc.compiler import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPECTED


def test_wfc_error_is_re_exported() -> None:
    assert wfc.compiler.WfcError is WfcError
    assert issubclass(CompileError, WfcError)
    assert issubclass(CompileWarning, Warning)


def test_problem_fields() -> None:
    problem = Problem("bad", "flow.py:1")
    assert (problem.message, problem.source, problem.severity) == ("bad", "flow.py:1", "error")


def test_compile_workflow_signature() -> None:
    parameters = inspect.signature(compile_workflow).parameters
    assert list(parameters) == ["workflow", "previous"]
    assert parameters["previous"].default is None


def test_workflow_compile_is_available_from_the_dsl() -> None:
    from wfc.dsl import Workflow

    assert inspect.signature(Workflow.compile).parameters["previous"].default is None
