"""The public names of ``wfc.specs`` are a promise: pin them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import wfc.specs
from wfc.specs import SpecError, WfcError

EXPECTED = [
    "Backoff",
    "BinaryExpr",
    "BinaryOp",
    "CallExpr",
    "CompensateNode",
    "Compensation",
    "ERROR_CODES",
    "Edge",
    "EntrypointNode",
    "ExitNode",
    "Expr",
    "FIELD_TYPES",
    "FUNCTIONS",
    "FailNode",
    "FailureHandler",
    "FailureKind",
    "FieldDef",
    "FieldProblem",
    "FieldType",
    "FormDef",
    "InterruptDef",
    "ListExpr",
    "LiteralExpr",
    "MAX_DURATION_SECONDS",
    "MAX_EPOCH_SECONDS",
    "MAX_EXPRESSION_DEPTH",
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MIN_EPOCH_SECONDS",
    "MIN_INT",
    "MUTATION_OPS",
    "Mutation",
    "MutationOp",
    "Node",
    "NopNode",
    "OutputRef",
    "PathSegment",
    "SCHEMA_ID",
    "SCHEMA_IDS",
    "SleepNode",
    "SleepUntilNode",
    "SpawnThreadForEachNode",
    "SpawnThreadNode",
    "SpecError",
    "TERMINAL_NODES",
    "TaskNode",
    "ThreadSpec",
    "ThreadStrategy",
    "UnaryExpr",
    "UnaryOp",
    "UserTaskAction",
    "UserTaskNode",
    "UserTaskTimer",
    "VAR_TYPES",
    "ValueProblem",
    "VarRef",
    "VarType",
    "VariableDef",
    "Version",
    "WaitForEventNode",
    "WaitForThreadsNode",
    "WfcError",
    "WorkflowSpec",
    "body_hash",
    "dumps",
    "duration_problem",
    "expr_children",
    "expression_depth",
    "first_version",
    "fold_expr",
    "form_output",
    "form_problems",
    "format_expr",
    "format_literal",
    "from_builtins",
    "has_field_type",
    "json_problems",
    "json_schema",
    "loads",
    "loads_deployed",
    "moment_problem",
    "node_expressions",
    "node_kind",
    "referenced_vars",
    "text_problem",
    "trapped_nodes",
    "validate",
    "walk_expr",
    "with_hash",
]


def test_all_is_pinned() -> None:
    assert sorted(wfc.specs.__all__) == EXPECTED


def test_all_has_no_duplicates() -> None:
    assert len(wfc.specs.__all__) == len(set(wfc.specs.__all__))


@pytest.mark.parametrize("name", EXPECTED)
def test_each_name_is_importable(name: str) -> None:
    module = importlib.import_module("wfc.specs")
    assert getattr(module, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from wfc.specs import {name}", namespace)
    assert namespace[name] is getattr(module, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from wfc.specs import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPECTED


def test_wfc_error_is_the_base_of_spec_error() -> None:
    assert issubclass(SpecError, WfcError)
    assert issubclass(WfcError, Exception)
    assert SpecError.__mro__[1] is WfcError
    with pytest.raises(WfcError):
        wfc.specs.loads(b"{}")


def test_errors_live_in_the_errors_module() -> None:
    errors = importlib.import_module("wfc.specs.errors")
    assert errors.WfcError is WfcError
    assert errors.SpecError is SpecError


def test_schema_id() -> None:
    assert wfc.specs.SCHEMA_ID == "wfc/2"
    assert wfc.specs.SCHEMA_IDS == ("wfc/1", "wfc/2")


def test_every_export_is_found_lazily_where_it_is_defined() -> None:
    """``wfc.specs`` imports its names on first use; its table of where each
    one lives lists exactly ``__all__``, and each entry is right."""
    homes: dict[str, str] = wfc.specs._HOMES
    assert sorted(homes) == EXPECTED
    for name, home in homes.items():
        assert getattr(importlib.import_module(home), name) is getattr(wfc.specs, name)


def test_importing_the_errors_alone_loads_no_codec() -> None:
    code = "import sys, wfc.specs.errors; print(sorted(m for m in sys.modules if m.startswith(('wfc.', 'msgspec'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['wfc.specs', 'wfc.specs._lazy', 'wfc.specs.errors']"  # _lazy: names on first use
