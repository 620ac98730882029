"""Turn what a test hands to ``wf_snapshot`` into canonical spec text, and
show two spec texts side by side as a unified diff.

Nothing here imports pytest or syrupy, so ``import wfc.testing`` works in an
installation without the ``test`` extra.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from wfc.specs import WorkflowSpec, dumps

if TYPE_CHECKING:
    from wfc.dsl import Workflow


def spec_of(target: Workflow | WorkflowSpec) -> WorkflowSpec:
    """Return the spec of ``target``, compiling it if it is a workflow.

    A workflow is compiled without a previous version, so the result is a pure
    function of the workflow's code: its version is always ``1.0``. Versions
    are tracked by ``wfc compile`` in a specs directory, not by snapshots.

    Args:
        target: A :class:`wfc.dsl.Workflow` or an already compiled
            :class:`wfc.specs.WorkflowSpec`.

    Raises:
        TypeError: ``target`` is neither, e.g. the bare workflow function.
        wfc.compiler.CompileError: the workflow does not compile.
    """
    __tracebackhide__ = True
    if isinstance(target, WorkflowSpec):
        return target
    # Imported here so that loading the pytest plugin stays cheap and does not
    # pull in the compiler (and lark) for test sessions that never use it.
    from wfc.compiler import compile_workflow
    from wfc.dsl import Workflow

    if not isinstance(target, Workflow):
        what = getattr(target, "__name__", None)
        shown = f"{type(target).__name__} {what!r}" if what else repr(target)
        raise TypeError(
            f"expected a wfc.dsl.Workflow or a wfc.specs.WorkflowSpec, got {shown}; "
            "wrap a workflow function first: Workflow('my-flow', my_flow)"
        )
    return compile_workflow(target)


def spec_text(target: Workflow | WorkflowSpec) -> str:
    """The canonical JSON of ``target``'s spec, exactly as ``wfc compile``
    writes it (sorted keys, two-space indent, trailing newline)."""
    return dumps(spec_of(target)).decode("utf-8")


def spec_diff(
    expected: str,
    actual: str,
    *,
    expected_label: str = "snapshot",
    actual_label: str = "compiled",
    context: int = 3,
) -> Iterator[str]:
    """Yield the lines of a unified diff from ``expected`` to ``actual``.

    Lines carry no trailing newline, so they can be joined with ``"\\n"`` or
    handed to pytest as assertion explanation lines. Identical texts give no
    lines at all.
    """
    return difflib.unified_diff(
        expected.splitlines(),
        actual.splitlines(),
        fromfile=expected_label,
        tofile=actual_label,
        n=context,
        lineterm="",
    )
