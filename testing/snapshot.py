"""``wf_snapshot``: compare compiled workflows with their snapshot files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wfc.specs import WorkflowSpec, dumps
from wfc.testing.compare import spec_diff, spec_of

if TYPE_CHECKING:
    from syrupy.assertion import AssertionResult, SnapshotAssertion
    from syrupy.types import SerializedData

    from wfc.dsl import Workflow

_UPDATE_HINT = "run `pytest --snapshot-update` to accept the new spec"


class SpecSnapshotMismatch(AssertionError):
    """A compiled workflow differs from its snapshot, or has none yet.

    The message names the workflow and the snapshot file and shows a unified
    diff from the stored spec to the compiled one.

    Attributes:
        workflow: Name of the workflow.
        location: Path of the snapshot file.
    """

    def __init__(self, message: str, *, workflow: str, location: str) -> None:
        super().__init__(message)
        self.workflow = workflow
        self.location = location


# Tracebacks show the public name users can import and catch.
SpecSnapshotMismatch.__module__ = "wfc.testing"


@dataclass(frozen=True)
class SnapshotMatch:
    """What ``wf_snapshot(...)`` returns when the spec matches its snapshot
    (or when ``--snapshot-update`` wrote it). Always true, so it reads well in
    ``assert wf_snapshot(my_wf)``."""

    spec: WorkflowSpec
    """The compiled spec that was compared."""
    location: str
    """Path of the snapshot file."""
    created: bool = False
    """The snapshot did not exist and was written by this run."""
    updated: bool = False
    """The snapshot differed and was rewritten by this run."""

    def __bool__(self) -> bool:
        return True


class WorkflowSnapshot:
    """Compile workflows and compare their specs with stored snapshots.

    The ``wf_snapshot`` fixture of the wfc pytest plugin is an instance::

        def test_checkout_spec(wf_snapshot):
            assert wf_snapshot(checkout_wf)

    Each workflow is stored as ``__snapshots__/<test module>/<test>[<workflow
    name>].json`` beside the test file, with exactly the bytes ``wfc compile``
    writes. ``pytest --snapshot-update`` writes new and changed snapshots.
    """

    def __init__(self, assertion: SnapshotAssertion) -> None:
        """Wrap syrupy's ``snapshot`` fixture of the current test."""
        from wfc.testing.extension import WorkflowSpecExtension

        self._assertion = assertion.use_extension(WorkflowSpecExtension)

    def __call__(self, target: Workflow | WorkflowSpec, *, name: str | None = None) -> SnapshotMatch:
        """Compare ``target``'s spec with its snapshot.

        Args:
            target: A :class:`wfc.dsl.Workflow` (compiled here) or a
                :class:`wfc.specs.WorkflowSpec`.
            name: Snapshot name within the test; defaults to the workflow's
                name, so one test can snapshot several workflows.

        Returns:
            A :class:`SnapshotMatch`, which is always true.

        Raises:
            SpecSnapshotMismatch: the spec differs from the snapshot, or there
                is no snapshot and ``--snapshot-update`` was not given.
        """
        __tracebackhide__ = True
        spec = spec_of(target)
        assertion = self._assertion(name=name or spec.name)
        matched = assertion == dumps(spec)
        result = assertion.executions[assertion.num_executions - 1]
        if not matched:
            raise _mismatch(spec.name, result)
        return SnapshotMatch(spec, result.snapshot_location, created=result.created, updated=result.updated)


def _mismatch(workflow: str, result: AssertionResult) -> SpecSnapshotMismatch:
    where = _display_path(result.snapshot_location)
    if result.exception is not None:
        message = (
            f"could not compare workflow {workflow!r} with its snapshot {where}: "
            f"{type(result.exception).__name__}: {result.exception}"
        )
    elif result.recalled_data is None:
        message = f"workflow {workflow!r} has no snapshot yet ({where}); {_UPDATE_HINT}"
    else:
        diff = spec_diff(
            _text(result.recalled_data),
            _text(result.asserted_data or b""),
            expected_label=f"snapshot {where}",
            actual_label=f"compiled workflow {workflow!r}",
        )
        message = "\n".join([f"workflow {workflow!r} differs from its snapshot; {_UPDATE_HINT}", *diff])
    error = SpecSnapshotMismatch(message, workflow=workflow, location=result.snapshot_location)
    if result.exception is not None:
        error.__cause__ = result.exception
    return error


def _display_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


def _text(data: SerializedData) -> str:
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
