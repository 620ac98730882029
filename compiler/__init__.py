"""The compiler: from a recorded workflow function to a versioned spec.

``compile_workflow(workflow, previous=None)`` checks everything the builder
recorded, reports every problem at once with its ``file:line``, lowers the
graph to :mod:`wfc.specs` types and versions it against the previous spec.
"""

from wfc.compiler.compile import compile_workflow
from wfc.compiler.diff import InterfaceChange, NodeChange, SpecDiff, diff_specs, next_version
from wfc.compiler.errors import CompileError, CompileWarning, Problem
from wfc.specs import WfcError

__all__ = [
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
