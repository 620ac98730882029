"""The public names of ``wfc.dsl`` are a promise: pin them. Also: every
subpackage re-exports the one ``WfcError``."""

from __future__ import annotations

import importlib

import pytest

import wfc.dsl
from wfc.dsl import DslError, ExpressionError
from wfc.specs import WfcError

EXPECTED = [
    "Backoff",
    "DslError",
    "ENTRYPOINT_THREAD",
    "Expression",
    "ExpressionError",
    "Field",
    "IfChain",
    "NodeOutput",
    "SpawnedThread",
    "ThreadStrategy",
    "UserTaskForm",
    "UserTaskOutput",
    "VariableHandle",
    "WfcError",
    "Workflow",
    "WorkflowThread",
    "parse_expression",
    "parse_json_path",
]


def test_all_is_pinned() -> None:
    assert sorted(wfc.dsl.__all__) == EXPECTED


def test_all_has_no_duplicates() -> None:
    assert len(wfc.dsl.__all__) == len(set(wfc.dsl.__all__))


@pytest.mark.parametrize("name", EXPECTED)
def test_each_name_is_importable(name: str) -> None:
    module = importlib.import_module("wfc.dsl")
    assert getattr(module, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from wfc.dsl import {name}", namespace)
    assert namespace[name] is getattr(module, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from wfc.dsl import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPECTED


def test_dsl_errors_are_wfc_errors() -> None:
    assert issubclass(DslError, WfcError)
    assert issubclass(ExpressionError, WfcError)
    assert wfc.dsl.WfcError is WfcError


def test_backoff_is_the_spec_type() -> None:
    from wfc.specs import Backoff

    assert wfc.dsl.Backoff is Backoff


def test_entrypoint_thread_name() -> None:
    assert wfc.dsl.ENTRYPOINT_THREAD == "main"


SUBPACKAGES = [
    "wfc.dsl",
    "wfc.compiler",
    "wfc.specs",
    "wfc.runtime",
    "wfc.cli",
]


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_subpackage_re_exports_wfc_error(package: str) -> None:
    module = importlib.import_module(package)
    assert "WfcError" in module.__all__
    assert module.WfcError is WfcError
    namespace: dict[str, object] = {}
    exec(f"from {package} import WfcError", namespace)
    assert namespace["WfcError"] is WfcError
