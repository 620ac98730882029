"""``compile_workflow``: record, check, lower, version."""

from __future__ import annotations

import sys
import warnings

import msgspec

from wfc.compiler.checks import check_recording
from wfc.compiler.diff import next_version
from wfc.compiler.errors import CompileError, CompileWarning, Problem
from wfc.compiler.lower import lower
from wfc.dsl.errors import DslError
from wfc.dsl.recording import Recording
from wfc.dsl.source import raising_source
from wfc.dsl.workflow import Workflow
from wfc.specs import SpecError, WorkflowSpec, validate, with_hash


def compile_workflow(workflow: Workflow, previous: WorkflowSpec | None = None) -> WorkflowSpec:
    """Compile a workflow to a versioned spec.

    A pure function of what the workflow function records: compiling twice
    gives equal specs. Against ``previous`` (the last spec of the same
    workflow) the version is kept when nothing changed, the revision bumps for
    compatible changes, and the major version bumps when the interface breaks.

    Raises:
        CompileError: listing every problem found, each at the ``file:line``
            of the DSL call that caused it.
        DslError: a DSL call was misused (raised at that call).

    Warns:
        CompileWarning: for legal but suspicious code, such as a handler for
            an exception nothing can raise.
    """
    if not isinstance(workflow, Workflow):
        raise TypeError(f"compile_workflow() takes a wfc.dsl.Workflow, got {workflow!r}")
    if previous is not None and not isinstance(previous, WorkflowSpec):
        raise TypeError(
            f"previous must be the WorkflowSpec of the last version (wfc.specs.loads(path.read_bytes())), "
            f"got {previous!r}"
        )
    recording = _record(workflow)
    problems = check_recording(recording)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise CompileError(workflow.name, errors)
    for warning in problems:
        if warning.severity == "warning":
            warnings.warn(CompileWarning(str(warning)), stacklevel=2)
    spec = lower(recording)
    _check_loadable(recording, spec)
    spec = with_hash(spec)
    if previous is None:
        return spec
    if previous.name != spec.name:
        raise CompileError(workflow.name, [Problem(
            f"the previous spec is of workflow {previous.name!r}, not {spec.name!r}; "
            "compare a workflow only with its own earlier spec", str(workflow.source))])
    return msgspec.structs.replace(spec, version=next_version(previous, spec))


def _check_loadable(recording: Recording, spec: WorkflowSpec) -> None:
    """Every spec the compiler writes is one ``loads`` accepts: a rule the
    checks above missed is still reported as a compile error, at the DSL call
    that made the offending part, never as an invalid file."""
    try:
        validate(spec)
    except SpecError as exc:
        raise CompileError(recording.name, [Problem(f"{exc.reason} (at {exc.path} of the spec)",
                                                    _source_of(recording, exc.path))]) from None


def _source_of(recording: Recording, path: str) -> str:
    """The ``file:line`` that recorded the part of the spec at ``$.``-path ``path``."""
    parts = path.split(".")
    thread = recording.threads.get(parts[2]) if len(parts) > 2 and parts[1] == "threads" else None
    if thread is not None:
        node = thread.nodes.get(parts[4].split("[")[0]) if len(parts) > 4 and parts[3] == "nodes" else None
        return str(node.source if node is not None else thread.source)
    form = recording.forms.get(parts[2]) if len(parts) > 2 and parts[1] == "forms" else None
    if form is not None:
        return str(form.declared)
    entry = recording.entrypoint
    variable = entry.variables.get(parts[2]) if entry and len(parts) > 2 and parts[1] == "variables" else None
    if variable is not None:
        return str(variable.source)
    return str(entry.source if entry is not None else "<workflow>")


def _record(workflow: Workflow) -> Recording:
    try:
        return workflow.record()
    except DslError:
        raise
    except Exception as exc:
        where = raising_source(exc.__traceback__) or workflow.source
        raise CompileError(workflow.name, [Problem(_raised(exc), str(where))]) from exc


def _raised(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        # Each do_if/do_while/thread body nested in another is a few Python
        # frames deeper, so deep nesting reaches the limit, not only a bug.
        return (f"the workflow nests too deeply (or recurses without end): Python's recursion limit of "
                f"{sys.getrecursionlimit()} frames was reached; nest fewer bodies inside each other, e.g. "
                "chain branches with do_elif instead of nesting do_if")
    return f"the workflow function raised {type(exc).__name__}{_message_of(exc)}"


def _message_of(exc: Exception) -> str:
    """``: message``, or what can be said when the exception cannot print itself."""
    try:
        return f": {exc}"
    except Exception as failed:  # its __str__ is the user's code
        return f" (its message cannot be shown: its __str__ raised {type(failed).__name__})"
