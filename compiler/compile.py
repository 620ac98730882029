"""``compile_workflow``: record, check, lower, version."""

from __future__ import annotations

import os
import traceback
import warnings

import msgspec

import wfc.dsl.workflow
from wfc.compiler.checks import check_recording
from wfc.compiler.diff import next_version
from wfc.compiler.errors import CompileError, CompileWarning, Problem
from wfc.compiler.lower import lower
from wfc.dsl.errors import DslError
from wfc.dsl.recording import Recording
from wfc.dsl.source import Source, display_path
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
        frame = _user_frame(exc) or str(workflow.source)
        raise CompileError(workflow.name, [Problem(
            f"the workflow function raised {type(exc).__name__}: {exc}", frame)]) from exc


_OWN_DIRS = (
    os.path.dirname(os.path.abspath(__file__)),
    os.path.dirname(os.path.abspath(wfc.dsl.workflow.__file__)),
)


def _user_frame(exc: BaseException) -> str | None:
    """``file:line`` of the innermost frame of the user's code in the traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.dirname(os.path.abspath(f.filename)) not in _OWN_DIRS]
    if not frames:
        return None
    return str(Source(display_path(frames[-1].filename), frames[-1].lineno or 0))
